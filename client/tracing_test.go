package client

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"

	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/embedded"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/zraft/zraft/client/internal/testserver"
)

// recorder is a minimal TracerProvider that records its spans.
type recorder struct {
	embedded.TracerProvider
	mu    sync.Mutex
	spans []*recSpan
	n     byte
}

type recTracer struct {
	embedded.Tracer
	r *recorder
}

type recSpan struct {
	noop.Span
	sc     trace.SpanContext
	name   string
	ended  bool
	status codes.Code
}

func (r *recorder) Tracer(string, ...trace.TracerOption) trace.Tracer { return recTracer{r: r} }

func (t recTracer) Start(ctx context.Context, name string, _ ...trace.SpanStartOption) (context.Context, trace.Span) {
	t.r.mu.Lock()
	defer t.r.mu.Unlock()
	t.r.n++
	sc := trace.NewSpanContext(trace.SpanContextConfig{TraceID: trace.TraceID{1, t.r.n}, SpanID: trace.SpanID{2, t.r.n},
		TraceFlags: trace.FlagsSampled})
	s := &recSpan{sc: sc, name: name}
	t.r.spans = append(t.r.spans, s)
	return trace.ContextWithSpan(ctx, s), s
}

func (s *recSpan) SpanContext() trace.SpanContext { return s.sc }
func (s *recSpan) End(...trace.SpanEndOption)     { s.ended = true }
func (s *recSpan) SetStatus(c codes.Code, _ string) {
	s.status = c
}

func (r *recorder) snapshot() []recSpan {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]recSpan, len(r.spans))
	for i, s := range r.spans {
		out[i] = *s
	}
	return out
}

func TestTracerProviderSpansAndContext(t *testing.T) {
	checkLeaks(t)
	cl := startCluster(t, testserver.Config{Members: 1, Extensions: true})
	rec := &recorder{}
	c := dial(t, cl.Endpoints(), WithTracerProvider(rec))
	ctx := ctxT(t)
	if _, err := c.Submit(ctx, set(t, "k", "v")); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Query(ctx, get(t, "k")); err != nil {
		t.Fatal(err)
	}
	_ = c.Close(ctx)
	if _, err := c.Submit(ctx, set(t, "k", "v")); !errors.Is(err, ErrClosed) {
		t.Fatal(err)
	}
	spans := rec.snapshot()
	if len(spans) != 3 {
		t.Fatalf("%d spans", len(spans))
	}
	for i, want := range []string{"zraft.client.submit", "zraft.client.query", "zraft.client.submit"} {
		if spans[i].name != want || !spans[i].ended {
			t.Fatalf("span %d: %+v", i, spans[i])
		}
	}
	if spans[0].status == codes.Error || spans[2].status != codes.Error {
		t.Fatalf("statuses %v %v", spans[0].status, spans[2].status)
	}
	got := cl.TraceParents()
	if len(got) != 2 {
		t.Fatalf("trace parents %q", got)
	}
	for i, tp := range got {
		want := "00-" + spans[i].sc.TraceID().String() + "-" + spans[i].sc.SpanID().String() + "-01"
		if tp != want {
			t.Fatalf("traceparent %d = %q, want %q", i, tp, want)
		}
	}
}

// Without confirmation no trace context goes out, even with a tracer.
func TestTracerProviderPlainV1(t *testing.T) {
	checkLeaks(t)
	cl := startCluster(t, testserver.Config{Members: 1, Extensions: false})
	c := dial(t, cl.Endpoints(), WithTracerProvider(&recorder{}))
	if _, err := c.Submit(ctxT(t), set(t, "k", "v")); err != nil {
		t.Fatal(err)
	}
	if got := cl.TraceParents(); len(got) != 1 || got[0] != "" || strings.Join(cl.Violations(), "") != "" {
		t.Fatalf("trace parents %q, violations %q", got, cl.Violations())
	}
}
