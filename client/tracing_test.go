package client

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"strings"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
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
	r      *recorder
	sc     trace.SpanContext
	parent trace.SpanContext
	kind   trace.SpanKind
	name   string
	ended  bool
	status codes.Code
	attrs  map[attribute.Key]attribute.Value
}

func (r *recorder) Tracer(string, ...trace.TracerOption) trace.Tracer { return recTracer{r: r} }

func (t recTracer) Start(ctx context.Context, name string, opts ...trace.SpanStartOption) (context.Context, trace.Span) {
	t.r.mu.Lock()
	defer t.r.mu.Unlock()
	t.r.n++
	parent := trace.SpanContextFromContext(ctx)
	tid := trace.TraceID{1, t.r.n}
	if parent.IsValid() {
		tid = parent.TraceID()
	}
	sc := trace.NewSpanContext(trace.SpanContextConfig{TraceID: tid, SpanID: trace.SpanID{2, t.r.n},
		TraceFlags: trace.FlagsSampled})
	cfg := trace.NewSpanStartConfig(opts...)
	s := &recSpan{r: t.r, sc: sc, parent: parent, kind: cfg.SpanKind(), name: name,
		attrs: map[attribute.Key]attribute.Value{}}
	t.r.spans = append(t.r.spans, s)
	return trace.ContextWithSpan(ctx, s), s
}

func (s *recSpan) SpanContext() trace.SpanContext { return s.sc }
func (s *recSpan) End(...trace.SpanEndOption) {
	s.r.mu.Lock()
	defer s.r.mu.Unlock()
	s.ended = true
}
func (s *recSpan) SetStatus(c codes.Code, _ string) {
	s.r.mu.Lock()
	defer s.r.mu.Unlock()
	s.status = c
}
func (s *recSpan) SetAttributes(kv ...attribute.KeyValue) {
	s.r.mu.Lock()
	defer s.r.mu.Unlock()
	for _, a := range kv {
		s.attrs[a.Key] = a.Value
	}
}

// attr returns the attribute's value as a string, "" when the span lacks it.
func (s *recSpan) attr(k attribute.Key) string {
	if v, ok := s.attrs[k]; ok {
		return v.String()
	}
	return ""
}

func (r *recorder) snapshot() []recSpan {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]recSpan, len(r.spans))
	for i, s := range r.spans {
		out[i] = *s
		out[i].attrs = maps.Clone(s.attrs)
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
	sid := status(t, c).SessionID
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
	// Session, request id or correlation id, and the member that answered; the call
	// refused after Close has none of them (it never reached the owner).
	if a := spans[0].attrs; len(a) != 3 || spans[0].attr(attrSessionID) != sid || spans[0].attr(attrRequestID) != "1" ||
		spans[0].attr(attrMemberID) != "node-1" || sid == "" {
		t.Errorf("submit span attributes %v (session %q)", a, sid)
	}
	if a := spans[1].attrs; len(a) != 3 || spans[1].attr(attrSessionID) != sid || len(spans[1].attr(attrCorrelationID)) != 24 ||
		spans[1].attr(attrMemberID) != "node-1" {
		t.Errorf("query span attributes %v", a)
	}
	if a := spans[2].attrs; len(a) != 0 {
		t.Errorf("span of a call after Close has attributes %v", a)
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

// A command refused by the client (too many pending) takes no request id: the spans'
// ids are the ones the cluster applied, and a call that ended without an answer names
// no member.
func TestTracerProviderRequestIDs(t *testing.T) {
	checkLeaks(t)
	cl := startCluster(t, testserver.Config{Members: 1, Extensions: true})
	rec := &recorder{}
	c := dial(t, cl.Endpoints(), WithTracerProvider(rec), WithMaxPending(1), WithResendInterval(50*time.Millisecond))
	ctx := ctxT(t)
	sid := status(t, c).SessionID
	cl.DropReplies(true)
	first := c.SubmitAsync(ctx, set(t, "a", "1"))
	eventually(t, "first command pending", func() bool { return status(t, c).Pending == 1 })
	if _, err := c.Submit(ctx, set(t, "b", "2")); !errors.Is(err, ErrTooManyPending) {
		t.Fatalf("second command: %v", err)
	}
	cl.DropReplies(false)
	if _, err := first.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Submit(ctx, set(t, "c", "3")); err != nil {
		t.Fatal(err)
	}
	if cl.Applied(sid, 1) != 1 || cl.Applied(sid, 2) != 1 || cl.Applied(sid, 3) != 0 {
		t.Fatalf("applied: %d %d %d", cl.Applied(sid, 1), cl.Applied(sid, 2), cl.Applied(sid, 3))
	}
	spans := rec.snapshot()
	if len(spans) != 3 {
		t.Fatalf("%d spans", len(spans))
	}
	for i, want := range []string{"1", "", "2"} {
		if got := spans[i].attr(attrRequestID); got != want {
			t.Errorf("span %d: request id %q, want %q", i, got, want)
		}
	}
	if m := spans[1].attr(attrMemberID); m != "" || spans[1].attr(attrSessionID) != sid {
		t.Errorf("refused call's span: member %q, session %q", m, spans[1].attr(attrSessionID))
	}
}

// A traced server request gets one consumer span, child of the member's span, ended
// when the application can read the request, whose context the request then carries;
// deferred and redelivered copies start no other span.
func TestServerRequestConsumerSpan(t *testing.T) {
	checkLeaks(t)
	cl := startCluster(t, testserver.Config{Members: 1, Extensions: true, Redelivery: 20 * time.Millisecond})
	rec := &recorder{}
	c := dial(t, cl.Endpoints(), WithTracerProvider(rec), WithServerRequestBuffer(1))
	sid := status(t, c).SessionID
	const n = 5
	parents := make([]trace.SpanContext, n+1)
	for i := 1; i <= n; i++ {
		parents[i] = trace.NewSpanContext(trace.SpanContextConfig{TraceID: trace.TraceID{9, byte(i)},
			SpanID: trace.SpanID{8, byte(i)}, TraceFlags: trace.FlagsSampled})
		tp := fmt.Sprintf("00-%s-%s-01", parents[i].TraceID(), parents[i].SpanID())
		if !cl.PushTraced(sid, fmt.Append(nil, "job-", i), tp) {
			t.Fatal("no session")
		}
	}
	eventually(t, "deferrals", func() bool { return status(t, c).ServerRequestsDeferred > 0 })
	var reqs []ServerRequest
	for range n {
		select {
		case r := <-c.ServerRequests():
			reqs = append(reqs, r)
		case <-ctxT(t).Done():
			t.Fatal("no request")
		}
	}
	eventually(t, "every request acknowledged", func() bool { return cl.Unacknowledged(sid) == 0 })
	time.Sleep(100 * time.Millisecond) // redeliveries had time to come in
	var spans []recSpan
	eventually(t, "spans ended", func() bool {
		spans = rec.snapshot()
		for _, s := range spans {
			if !s.ended {
				return false
			}
		}
		return true
	})
	if len(spans) != n {
		t.Fatalf("%d spans for %d server requests", len(spans), n)
	}
	for i, s := range spans {
		r := reqs[i]
		if s.name != "zraft.client.server_request" || s.kind != trace.SpanKindConsumer || !s.parent.Equal(parents[r.ID].WithRemote(true)) {
			t.Errorf("span %d: %s kind %v parent %v", i, s.name, s.kind, s.parent)
		}
		if want := "00-" + s.sc.TraceID().String() + "-" + s.sc.SpanID().String() + "-01"; r.TraceParent != want {
			t.Errorf("request %d carries %q, want its span's %q", r.ID, r.TraceParent, want)
		}
		if s.attr(attrSessionID) != sid || s.attr(attrRequestID) != fmt.Sprint(r.ID) || s.attr(attrMemberID) != "node-1" {
			t.Errorf("span %d attributes %v", i, s.attrs)
		}
	}
}

// Without trace context, or without a tracer provider, a server request starts no span
// and keeps what the cluster sent.
func TestServerRequestWithoutTraceContext(t *testing.T) {
	checkLeaks(t)
	cl := startCluster(t, testserver.Config{Members: 1, Extensions: true})
	rec := &recorder{}
	c := dial(t, cl.Endpoints(), WithTracerProvider(rec))
	sid := status(t, c).SessionID
	cl.Push(sid, []byte("job-1"))
	cl.PushTraced(sid, []byte("job-2"), "00-zz-not-a-traceparent")
	readN(t, c, 1, 1)
	select {
	case r := <-c.ServerRequests():
		if r.TraceParent != "00-zz-not-a-traceparent" {
			t.Fatalf("request 2 carries %q", r.TraceParent)
		}
	case <-ctxT(t).Done():
		t.Fatal("no request 2")
	}
	if spans := rec.snapshot(); len(spans) != 0 {
		t.Fatalf("%d spans", len(spans))
	}
}
