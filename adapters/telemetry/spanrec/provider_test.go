package spanrec_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/zraft/zraft/adapters/telemetry/internal/testutil"
	"github.com/zraft/zraft/adapters/telemetry/otlphttp"
	"github.com/zraft/zraft/adapters/telemetry/spanrec"
)

func newProvider(t *testing.T, o spanrec.Options) *spanrec.Provider {
	t.Helper()
	testutil.CheckNoGoroutineLeak(t)
	p := spanrec.New(o)
	t.Cleanup(func() { _ = p.Shutdown(context.Background()) })
	return p
}

var (
	remoteParent = trace.NewSpanContext(trace.SpanContextConfig{
		TraceID: trace.TraceID{0x0a, 0xf7, 0x65, 0x19}, SpanID: trace.SpanID{0xb7, 0xad, 0x6b},
		TraceFlags: trace.FlagsSampled, Remote: true, TraceState: mustTraceState("zraft=1"),
	})
	unsampledParent = trace.NewSpanContext(trace.SpanContextConfig{
		TraceID: trace.TraceID{1, 2, 3}, SpanID: trace.SpanID{4, 5, 6}, Remote: true,
	})
)

func mustTraceState(s string) trace.TraceState {
	ts, err := trace.ParseTraceState(s)
	if err != nil {
		panic(err)
	}
	return ts
}

// script is a sequence of span operations run on both providers.
func script(tr trace.Tracer) {
	ctx := trace.ContextWithRemoteSpanContext(context.Background(), remoteParent)
	at := time.Unix(1_700_000_000, 5)
	ctx, root := tr.Start(ctx, "zraft.server.command", trace.WithSpanKind(trace.SpanKindServer),
		trace.WithAttributes(attribute.String("zraft.session.id", "s-1")), trace.WithTimestamp(at))
	root.SetAttributes(attribute.Int64("zraft.request.id", 7), attribute.String("zraft.member.id", "node-1"),
		attribute.String("zraft.session.id", "s-2"), attribute.KeyValue{}) // replaced key, invalid kv
	root.AddEvent("proposed", trace.WithTimestamp(at.Add(time.Millisecond)))
	root.AddEvent("applied", trace.WithTimestamp(at.Add(2*time.Millisecond)),
		trace.WithAttributes(attribute.Bool("ok", true), attribute.StringSlice("xs", []string{"a", "b"})))
	root.AddLink(trace.Link{SpanContext: unsampledParent, Attributes: []attribute.KeyValue{attribute.Int("n", 1)}})
	root.AddLink(trace.Link{}) // invalid: ignored
	root.SetStatus(codes.Error, "request error")
	root.RecordError(errors.New("boom"), trace.WithTimestamp(at.Add(3*time.Millisecond)))
	_, child := tr.Start(ctx, "child", trace.WithTimestamp(at.Add(time.Microsecond)))
	child.SetStatus(codes.Ok, "ignored description")
	child.SetStatus(codes.Error, "too late: Ok is final")
	child.SetName("child renamed")
	child.End(trace.WithTimestamp(at.Add(4 * time.Millisecond)))
	child.SetAttributes(attribute.Int("after", 1)) // after End: ignored
	root.End(trace.WithTimestamp(at.Add(5 * time.Millisecond)))
	root.End() // second End: nothing
	_, nr := tr.Start(ctx, "new root", trace.WithNewRoot(), trace.WithSpanKind(trace.SpanKindProducer),
		trace.WithTimestamp(at), trace.WithLinks(trace.Link{SpanContext: remoteParent}))
	nr.End(trace.WithTimestamp(at.Add(time.Second)))
}

// normalize drops what legitimately differs between the two recorders (random ids,
// except the remote parent's) and sorts by name.
func normalize(stubs tracetest.SpanStubs) tracetest.SpanStubs {
	norm := func(sc trace.SpanContext) trace.SpanContext {
		c := trace.SpanContextConfig{TraceFlags: sc.TraceFlags(), TraceState: sc.TraceState(), Remote: sc.IsRemote()}
		if sc.TraceID() == remoteParent.TraceID() {
			c.TraceID = sc.TraceID()
		}
		if sc.IsRemote() {
			c.SpanID = sc.SpanID()
		}
		return trace.NewSpanContext(c)
	}
	out := slices.Clone(stubs)
	for i := range out {
		out[i].SpanContext, out[i].Parent = norm(out[i].SpanContext), norm(out[i].Parent)
		for j := range out[i].Links {
			out[i].Links[j].SpanContext = norm(out[i].Links[j].SpanContext)
		}
	}
	slices.SortFunc(out, func(a, b tracetest.SpanStub) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// TestMatchesSDK runs one script on the SDK's provider and on spanrec's, and compares
// what an exporter receives from each.
func TestMatchesSDK(t *testing.T) {
	res := resource.NewSchemaless(attribute.String("service.name", "zraftd"))
	sdkExp := tracetest.NewInMemoryExporter()
	sdk := sdktrace.NewTracerProvider(sdktrace.WithSyncer(sdkExp), sdktrace.WithResource(res))
	t.Cleanup(func() { _ = sdk.Shutdown(context.Background()) })
	recExp := tracetest.NewInMemoryExporter()
	rec := newProvider(t, spanrec.Options{Resource: res, Exporters: []sdktrace.SpanExporter{recExp}})

	script(sdk.Tracer("github.com/zraft/zraft", trace.WithInstrumentationVersion("v1")))
	script(rec.Tracer("github.com/zraft/zraft", trace.WithInstrumentationVersion("v1")))
	if err := rec.ForceFlush(context.Background()); err != nil {
		t.Fatal(err)
	}
	want, got := normalize(sdkExp.GetSpans()), normalize(recExp.GetSpans())
	if len(want) != 3 || len(got) != 3 {
		t.Fatalf("spans: sdk %d, spanrec %d, want 3 each", len(want), len(got))
	}
	for i := range want {
		w, g := want[i], got[i]
		// Compare field by field for a readable failure.
		checks := []struct {
			what string
			ok   bool
		}{
			{"name", w.Name == g.Name},
			{"span context", w.SpanContext.Equal(g.SpanContext)},
			{"parent", w.Parent.Equal(g.Parent)},
			{"kind", w.SpanKind == g.SpanKind},
			{"start", w.StartTime.Equal(g.StartTime)},
			{"end", w.EndTime.Equal(g.EndTime)},
			{"attributes", slices.Equal(w.Attributes, g.Attributes)},
			{"events", eventsEqual(w.Events, g.Events)},
			{"links", linksEqual(w.Links, g.Links)},
			{"status", w.Status == g.Status},
			{"dropped", w.DroppedAttributes == g.DroppedAttributes && w.DroppedEvents == g.DroppedEvents && w.DroppedLinks == g.DroppedLinks},
			{"resource", w.Resource.Equal(g.Resource)},
			{"scope", w.InstrumentationScope.Name == g.InstrumentationScope.Name && w.InstrumentationScope.Version == g.InstrumentationScope.Version},
		}
		for _, c := range checks {
			if !c.ok {
				t.Errorf("span %q: %s differs:\nsdk     %+v\nspanrec %+v", w.Name, c.what, w, g)
			}
		}
	}
}

func eventsEqual(a, b []sdktrace.Event) bool {
	return slices.EqualFunc(a, b, func(x, y sdktrace.Event) bool {
		return x.Name == y.Name && x.Time.Equal(y.Time) && slices.Equal(x.Attributes, y.Attributes) &&
			x.DroppedAttributeCount == y.DroppedAttributeCount
	})
}

func linksEqual(a, b []sdktrace.Link) bool {
	return slices.EqualFunc(a, b, func(x, y sdktrace.Link) bool {
		return x.SpanContext.Equal(y.SpanContext) && slices.Equal(x.Attributes, y.Attributes) &&
			x.DroppedAttributeCount == y.DroppedAttributeCount
	})
}

func TestSampling(t *testing.T) {
	exp := tracetest.NewInMemoryExporter()
	p := newProvider(t, spanrec.Options{Exporters: []sdktrace.SpanExporter{exp}})
	tr := p.Tracer("t")

	// Parent-based (the default): an unsampled remote parent makes an unsampled,
	// non-recording child of the same trace with a span id of its own.
	_, s := tr.Start(trace.ContextWithRemoteSpanContext(context.Background(), unsampledParent), "dropped")
	sc := s.SpanContext()
	if s.IsRecording() || sc.IsSampled() || sc.TraceID() != unsampledParent.TraceID() ||
		!sc.SpanID().IsValid() || sc.SpanID() == unsampledParent.SpanID() {
		t.Fatalf("child of an unsampled parent: recording %v, %v", s.IsRecording(), sc)
	}
	s.End()
	// No parent: a new sampled trace.
	_, s = tr.Start(context.Background(), "root")
	if !s.IsRecording() || !s.SpanContext().IsSampled() || !s.SpanContext().TraceID().IsValid() {
		t.Fatalf("root: recording %v, %v", s.IsRecording(), s.SpanContext())
	}
	s.End()
	if s.IsRecording() {
		t.Fatal("recording after End")
	}
	if err := p.ForceFlush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := exp.GetSpans(); len(got) != 1 || got[0].Name != "root" {
		t.Fatalf("exported %v, want the root only", got)
	}

	off := newProvider(t, spanrec.Options{Sampler: sdktrace.NeverSample(), Exporters: []sdktrace.SpanExporter{exp}})
	_, s = off.Tracer("t").Start(context.Background(), "never")
	if s.IsRecording() || s.SpanContext().IsSampled() || !s.SpanContext().IsValid() {
		t.Fatalf("NeverSample: recording %v, %v", s.IsRecording(), s.SpanContext())
	}
}

// countingExporter records the batch sizes it receives, through either path.
type countingExporter struct {
	mu      sync.Mutex
	batches []int
	names   []string
	block   chan struct{} // when set, exports wait on it
	shut    bool
}

func (e *countingExporter) ExportSpans(_ context.Context, spans []sdktrace.ReadOnlySpan) error {
	if e.block != nil {
		<-e.block
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.batches = append(e.batches, len(spans))
	for _, s := range spans {
		e.names = append(e.names, s.Name())
	}
	return nil
}

func (e *countingExporter) Shutdown(context.Context) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.shut = true
	return nil
}

func (e *countingExporter) total() (int, []int) {
	e.mu.Lock()
	defer e.mu.Unlock()
	n := 0
	for _, b := range e.batches {
		n += b
	}
	return n, slices.Clone(e.batches)
}

// fastExporter takes the plain values.
type fastExporter struct {
	countingExporter
	res *resource.Resource
}

func (e *fastExporter) Export(_ context.Context, res *resource.Resource, spans []otlphttp.Span) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.res = res
	e.batches = append(e.batches, len(spans))
	for _, s := range spans {
		e.names = append(e.names, s.Name+"@"+s.Scope.Name)
	}
	return nil
}

func (e *fastExporter) ExportSpans(context.Context, []sdktrace.ReadOnlySpan) error {
	panic("the provider must use Export")
}

func TestBatchesWakeTheExporter(t *testing.T) {
	exp := &countingExporter{}
	// A schedule delay far beyond the test: only full batches can wake the exporter.
	p := newProvider(t, spanrec.Options{Exporters: []sdktrace.SpanExporter{exp}, MaxExportBatchSize: 10,
		MaxQueueSize: 100, ScheduleDelay: time.Hour})
	tr := p.Tracer("t")
	for range 25 {
		_, s := tr.Start(context.Background(), "s")
		s.End()
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		if n, _ := exp.total(); n >= 20 {
			break
		}
		if time.Now().After(deadline) {
			n, b := exp.total()
			t.Fatalf("exported %d spans (%v) without a flush, want at least 20", n, b)
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err := p.ForceFlush(context.Background()); err != nil {
		t.Fatal(err)
	}
	n, batches := exp.total()
	if n != 25 {
		t.Fatalf("exported %d, want 25", n)
	}
	for _, b := range batches {
		if b > 10 {
			t.Fatalf("batch of %d, above MaxExportBatchSize 10: %v", b, batches)
		}
	}
}

func TestScheduleDelayExports(t *testing.T) {
	exp := &countingExporter{}
	p := newProvider(t, spanrec.Options{Exporters: []sdktrace.SpanExporter{exp}, ScheduleDelay: 20 * time.Millisecond})
	_, s := p.Tracer("t").Start(context.Background(), "s")
	s.End()
	deadline := time.Now().Add(10 * time.Second)
	for n, _ := exp.total(); n != 1; n, _ = exp.total() {
		if time.Now().After(deadline) {
			t.Fatal("a lone span was not exported after the schedule delay")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestFullQueueDropsAndReports(t *testing.T) {
	exp := &countingExporter{block: make(chan struct{})}
	var (
		mu   sync.Mutex
		errs []error
	)
	p := newProvider(t, spanrec.Options{Exporters: []sdktrace.SpanExporter{exp}, MaxExportBatchSize: 4, MaxQueueSize: 8,
		ScheduleDelay: time.Hour, ErrorHandler: func(err error) { mu.Lock(); errs = append(errs, err); mu.Unlock() }})
	tr := p.Tracer("t")
	ended := 0
	end := func(n int) {
		for range n {
			ended++
			_, s := tr.Start(context.Background(), "s")
			s.End()
		}
	}
	end(4) // a full batch: the export goroutine takes it and blocks in the exporter
	deadline := time.Now().Add(10 * time.Second)
	for {
		// The goroutine has taken the batch once 8 more spans fit in the queue.
		end(1)
		if p.Dropped() > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no span dropped with the exporter blocked")
		}
	}
	dropped := p.Dropped()
	close(exp.block)
	if err := p.ForceFlush(context.Background()); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(errs) == 0 || !errors.Is(errs[len(errs)-1], spanrec.ErrQueueFull) {
		t.Fatalf("errors reported: %v, want ErrQueueFull", errs)
	}
	// Every span ended is exported or dropped, and the exporter held no more than one
	// queue's worth besides the batch it was blocked in.
	if n, _ := exp.total(); uint64(n)+dropped != uint64(ended) || n > 8+8 {
		t.Fatalf("ended %d, exported %d, dropped %d", ended, n, dropped)
	}
}

func TestFastExporterAndShutdown(t *testing.T) {
	res := resource.NewSchemaless(attribute.String("service.name", "x"))
	fast, slow := &fastExporter{}, &countingExporter{}
	testutil.CheckNoGoroutineLeak(t)
	p := spanrec.New(spanrec.Options{Resource: res, Exporters: []sdktrace.SpanExporter{fast, slow}, ScheduleDelay: time.Hour})
	_, a := p.Tracer("scope-a").Start(context.Background(), "a")
	_, b := p.Tracer("scope-b").Start(context.Background(), "b")
	a.End()
	b.End()
	if err := p.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(fast.names, []string{"a@scope-a", "b@scope-b"}) || fast.res != res {
		t.Fatalf("fast exporter got %v (resource %v)", fast.names, fast.res)
	}
	if !slices.Equal(slow.names, []string{"a", "b"}) {
		t.Fatalf("SDK exporter got %v", slow.names)
	}
	if !fast.shut || !slow.shut {
		t.Fatal("exporters not shut down")
	}
	// After Shutdown: spans do not record, flushes and a second Shutdown fail.
	_, c := p.Tracer("scope-a").Start(context.Background(), "c")
	if c.IsRecording() {
		t.Fatal("a span records after Shutdown")
	}
	if err := p.ForceFlush(context.Background()); !errors.Is(err, spanrec.ErrShutdown) {
		t.Fatalf("ForceFlush after Shutdown: %v", err)
	}
	if err := p.Shutdown(context.Background()); !errors.Is(err, spanrec.ErrShutdown) {
		t.Fatalf("second Shutdown: %v", err)
	}
}

func TestLimits(t *testing.T) {
	exp := tracetest.NewInMemoryExporter()
	p := newProvider(t, spanrec.Options{Exporters: []sdktrace.SpanExporter{exp}})
	_, s := p.Tracer("t").Start(context.Background(), "big")
	for i := range 200 {
		s.SetAttributes(attribute.Int(string(rune('a'+i%26))+string(rune('a'+i/26)), i))
		s.AddEvent("e")
		s.AddLink(trace.Link{SpanContext: remoteParent})
	}
	s.End()
	if err := p.ForceFlush(context.Background()); err != nil {
		t.Fatal(err)
	}
	got := exp.GetSpans()[0]
	if len(got.Attributes) != 128 || got.DroppedAttributes != 72 || len(got.Events) != 128 || got.DroppedEvents != 72 ||
		len(got.Links) != 128 || got.DroppedLinks != 72 {
		t.Fatalf("attributes %d (+%d dropped), events %d (+%d), links %d (+%d)", len(got.Attributes), got.DroppedAttributes,
			len(got.Events), got.DroppedEvents, len(got.Links), got.DroppedLinks)
	}
}

// TestConcurrentUse ends spans from many goroutines while the exporter runs (for -race)
// and checks that every span arrives once.
func TestConcurrentUse(t *testing.T) {
	exp := &countingExporter{}
	p := newProvider(t, spanrec.Options{Exporters: []sdktrace.SpanExporter{exp}, MaxExportBatchSize: 16,
		MaxQueueSize: 1 << 16, ScheduleDelay: time.Millisecond})
	tr := p.Tracer("t")
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 500 {
				_, s := tr.Start(context.Background(), "s")
				s.SetAttributes(attribute.Int("g", g))
				s.AddEvent("e")
				if i%2 == 0 {
					go s.End() // ended on another goroutine than the one that started it
				} else {
					s.End()
				}
			}
		})
	}
	wg.Wait()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if err := p.ForceFlush(context.Background()); err != nil {
			t.Fatal(err)
		}
		n, _ := exp.total()
		if n == 4000 {
			break
		}
		if time.Now().After(deadline) || n > 4000 {
			t.Fatalf("exported %d spans, want 4000 (dropped %d)", n, p.Dropped())
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// A Shutdown whose context ends while an export is stuck returns the context's error,
// and the export goroutine still stops once that export returns.
func TestShutdownWithStuckExporter(t *testing.T) {
	exp := &countingExporter{block: make(chan struct{})}
	testutil.CheckNoGoroutineLeak(t)
	p := spanrec.New(spanrec.Options{Exporters: []sdktrace.SpanExporter{exp}, MaxExportBatchSize: 1, ScheduleDelay: time.Hour})
	_, s := p.Tracer("t").Start(context.Background(), "s")
	s.End() // a full batch: the export goroutine takes it and blocks in the exporter
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := p.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Shutdown with a stuck exporter: %v", err)
	}
	close(exp.block) // the goroutine finishes its export and returns (the leak check waits)
}
