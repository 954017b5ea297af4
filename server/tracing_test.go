package server

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/zraft/zraft/adapters/telemetry"
	"github.com/zraft/zraft/adapters/telemetry/spanrec"
	"github.com/zraft/zraft/client"
	"github.com/zraft/zraft/domain/session"
	"github.com/zraft/zraft/protocol"
	"github.com/zraft/zraft/protocol/kvwire"
)

// memSpans is an in-memory exporter behind zraftd's span recorder (spanrec): GetSpans
// flushes the recorder first, so that every span ended so far is there.
type memSpans struct {
	*tracetest.InMemoryExporter
	tp *spanrec.Provider
}

// GetSpans returns the spans ended so far.
func (m *memSpans) GetSpans() tracetest.SpanStubs {
	if err := m.tp.ForceFlush(context.Background()); err != nil {
		panic(err)
	}
	return m.InMemoryExporter.GetSpans()
}

// tracedCluster starts a 3-member cluster and a real client sharing one tracer provider,
// the span recorder zraftd uses, that exports to memory.
func tracedCluster(ctx context.Context, t *testing.T, newApp func() session.Application) (*memSpans, *client.Client) {
	t.Helper()
	exp := &memSpans{InMemoryExporter: tracetest.NewInMemoryExporter()}
	tp := spanrec.New(spanrec.Options{Exporters: []sdktrace.SpanExporter{exp.InMemoryExporter}})
	exp.tp = tp
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	cl := newCluster(t, 3, nil, newApp, WithTracerProvider(tp))
	cl.leader(ctx)
	var eps []string
	for id, ep := range cl.endpoints {
		eps = append(eps, id+"="+ep)
	}
	sort.Strings(eps)
	c, err := client.Dial(ctx, strings.Join(eps, ","), client.WithTracerProvider(tp), client.WithLogger(testLogger()))
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	t.Cleanup(func() { _ = c.Close(context.Background()) })
	return exp, c
}

func spansNamed(exp interface{ GetSpans() tracetest.SpanStubs }, name string) []tracetest.SpanStub {
	var out []tracetest.SpanStub
	for _, s := range exp.GetSpans() {
		if s.Name == name {
			out = append(out, s)
		}
	}
	return out
}

func describe(spans tracetest.SpanStubs) string {
	var b strings.Builder
	for _, s := range spans {
		fmt.Fprintf(&b, "\n  %s trace=%s span=%s parent=%s", s.Name, s.SpanContext.TraceID(), s.SpanContext.SpanID(), s.Parent.SpanID())
		for _, e := range s.Events {
			fmt.Fprintf(&b, " +%s", e.Name)
		}
	}
	return b.String()
}

// childOf checks that spans named child exist and that all are parent's children in
// parent's trace (more than one if the client had to send again, e.g. after a leader
// change), and returns the first.
func childOf(t *testing.T, exp *memSpans, parent tracetest.SpanStub, child string) tracetest.SpanStub {
	t.Helper()
	cs := spansNamed(exp, child)
	if len(cs) == 0 {
		t.Fatalf("no %s span:%s", child, describe(exp.GetSpans()))
	}
	for _, c := range cs {
		if c.SpanContext.TraceID() != parent.SpanContext.TraceID() || c.Parent.SpanID() != parent.SpanContext.SpanID() {
			t.Fatalf("%s is not a child of %s:%s", child, parent.Name, describe(exp.GetSpans()))
		}
	}
	return cs[0]
}

func TestSubmitAndQueryTraceAcrossClientAndMember(t *testing.T) {
	checkLeaks(t)
	ctx := ctxFor(t, 60*time.Second)
	exp, c := tracedCluster(ctx, t, func() session.Application { return &counterApp{} })

	if _, err := c.Submit(ctx, []byte("incr")); err != nil {
		t.Fatalf("Submit: %v", err)
	}
	subs := spansNamed(exp, telemetry.SpanClientSubmit)
	if len(subs) != 1 {
		t.Fatalf("%d client submit spans, want 1:%s", len(subs), describe(exp.GetSpans()))
	}
	// The member ends its span as it sends the reply, which may be a moment after the
	// client has it.
	eventually(t, 10*time.Second, "server command span exported", func() bool {
		return len(spansNamed(exp, telemetry.SpanServerCommand)) > 0
	})
	cmd := childOf(t, exp, subs[0], telemetry.SpanServerCommand)
	if cmd.SpanKind != trace.SpanKindServer {
		t.Errorf("server span kind %v", cmd.SpanKind)
	}
	// The command's steps are events on its server span, in order: received (the span's
	// start), proposed, applied, replied (its end); no child spans.
	var stepped bool
	for _, c := range spansNamed(exp, telemetry.SpanServerCommand) {
		var names []string
		last := c.StartTime
		for _, e := range c.Events {
			names = append(names, e.Name)
			if e.Time.Before(last) || e.Time.After(c.EndTime) {
				t.Errorf("event %s at %v is out of order (span %v to %v)", e.Name, e.Time, c.StartTime, c.EndTime)
			}
			last = e.Time
		}
		if strings.Join(names, ",") == telemetry.EventProposed+","+telemetry.EventApplied {
			stepped = true
		}
	}
	if !stepped {
		t.Fatalf("no command span with the events proposed, applied:%s", describe(exp.GetSpans()))
	}
	for _, s := range exp.GetSpans() {
		if s.Parent.SpanID() == cmd.SpanContext.SpanID() {
			t.Errorf("command span has a child %s", s.Name)
		}
	}
	attrs := attrsOf(cmd)
	if attrs[string(telemetry.AttrRequestID)] != "1" || attrs[string(telemetry.AttrSessionID)] == "" || !strings.HasPrefix(attrs[string(telemetry.AttrMemberID)], "node-") {
		t.Errorf("server span attributes %v", attrs)
	}
	// The client's span names the same session and request, and the member that
	// answered: the one whose server span this is (the keys are telemetry's).
	st, err := c.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if ca := attrsOf(subs[0]); len(ca) != 3 || ca[string(telemetry.AttrSessionID)] != st.SessionID ||
		ca[string(telemetry.AttrSessionID)] != attrs[string(telemetry.AttrSessionID)] ||
		ca[string(telemetry.AttrRequestID)] != "1" || ca[string(telemetry.AttrMemberID)] != attrs[string(telemetry.AttrMemberID)] {
		t.Errorf("client span attributes %v, server span's %v", ca, attrs)
	}

	if _, err := c.Query(ctx, []byte("get")); err != nil {
		t.Fatalf("Query: %v", err)
	}
	qs := spansNamed(exp, telemetry.SpanClientQuery)
	if len(qs) != 1 {
		t.Fatalf("%d client query spans, want 1:%s", len(qs), describe(exp.GetSpans()))
	}
	eventually(t, 10*time.Second, "server query span exported", func() bool {
		return len(spansNamed(exp, telemetry.SpanServerQuery)) > 0
	})
	sq := childOf(t, exp, qs[0], telemetry.SpanServerQuery)
	if ca, sa := attrsOf(qs[0]), attrsOf(sq); len(ca) != 3 || ca[string(telemetry.AttrCorrelationID)] == "" ||
		ca[string(telemetry.AttrCorrelationID)] != sa[string(telemetry.AttrCorrelationID)] ||
		ca[string(telemetry.AttrMemberID)] != sa[string(telemetry.AttrMemberID)] {
		t.Errorf("client query span attributes %v, server span's %v", ca, sa)
	}
}

// attrsOf returns a span's attributes as strings by key.
func attrsOf(s tracetest.SpanStub) map[string]string {
	attrs := map[string]string{}
	for _, a := range s.Attributes {
		attrs[string(a.Key)] = a.Value.String()
	}
	return attrs
}

func TestServerRequestCarriesItsSpan(t *testing.T) {
	checkLeaks(t)
	ctx := ctxFor(t, 60*time.Second)
	exp, c := tracedCluster(ctx, t, nil)
	cmd := func(k kvwire.Command) []byte {
		b, err := kvwire.AppendCommand(nil, k)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	if _, err := c.Submit(ctx, cmd(kvwire.Watch{Key: "k"})); err != nil {
		t.Fatalf("Submit(watch): %v", err)
	}
	if _, err := c.Submit(ctx, cmd(kvwire.Set{Key: "k", Value: "v"})); err != nil {
		t.Fatalf("Submit(set): %v", err)
	}
	var req client.ServerRequest
	select {
	case req = <-c.ServerRequests():
	case <-ctx.Done():
		t.Fatal("no notification")
	}
	srs := spansNamed(exp, telemetry.SpanServerRequest)
	if len(srs) == 0 {
		t.Fatalf("no server request span:%s", describe(exp.GetSpans()))
	}
	// Each send (a redelivery too) has its span.
	if srs[0].SpanKind != trace.SpanKindProducer {
		t.Errorf("server request span kind %v", srs[0].SpanKind)
	}
	// The client's consumer span (one, redeliveries or not) is a child of one of the
	// member's producer spans, in its trace; the request hands the application the
	// consumer span's context.
	eventually(t, 10*time.Second, "client server request span exported", func() bool {
		return len(spansNamed(exp, telemetry.SpanClientServerRequest)) > 0
	})
	cons := spansNamed(exp, telemetry.SpanClientServerRequest)
	if len(cons) != 1 {
		t.Fatalf("%d client server request spans for one request:%s", len(cons), describe(exp.GetSpans()))
	}
	con := cons[0]
	var producer *tracetest.SpanStub
	for i, s := range srs {
		if s.SpanContext.SpanID() == con.Parent.SpanID() {
			producer = &srs[i]
		}
	}
	if producer == nil || con.SpanContext.TraceID() != producer.SpanContext.TraceID() || !con.Parent.IsRemote() {
		t.Fatalf("client span is not the child of a member's server request span:%s", describe(exp.GetSpans()))
	}
	if con.SpanKind != trace.SpanKindConsumer {
		t.Errorf("client server request span kind %v", con.SpanKind)
	}
	if sc := con.SpanContext; req.TraceParent != fmt.Sprintf("00-%s-%s-01", sc.TraceID(), sc.SpanID()) {
		t.Errorf("notification traceparent %q is not the client span's %s", req.TraceParent, sc.SpanID())
	}
	ca, pa := attrsOf(con), attrsOf(*producer)
	if ca[string(telemetry.AttrRequestID)] != fmt.Sprint(req.ID) || ca[string(telemetry.AttrSessionID)] == "" ||
		ca[string(telemetry.AttrSessionID)] != pa[string(telemetry.AttrSessionID)] ||
		ca[string(telemetry.AttrMemberID)] != pa[string(telemetry.AttrMemberID)] {
		t.Errorf("client span attributes %v, member's %v", ca, pa)
	}
}

func TestTracerEndsSpansWhenConnectionCloses(t *testing.T) {
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	defer func() { _ = tp.Shutdown(context.Background()) }()
	tr := newTracer(tp, "node-1", testLogger())
	parent := trace.NewSpanContext(trace.SpanContextConfig{TraceID: trace.TraceID{1}, SpanID: trace.SpanID{2}, TraceFlags: trace.FlagsSampled})
	for i := range 3 {
		ctx := trace.ContextWithSpanContext(context.Background(), parent)
		_, span := tr.t.Start(ctx, telemetry.SpanServerCommand)
		tr.open[spanKey{session: "s", id: uint64(i)}] = openSpan{span: span, rid: 1, started: time.Now()}
	}
	ctx := trace.ContextWithSpanContext(context.Background(), parent)
	_, span := tr.t.Start(ctx, telemetry.SpanServerCommand)
	tr.open[spanKey{session: "s2", id: 1}] = openSpan{span: span, rid: 2, started: time.Now().Add(-time.Hour)}

	tr.connClosed(1)
	if len(tr.open) != 1 || len(exp.GetSpans()) != 3 {
		t.Fatalf("after close: %d open, %d ended", len(tr.open), len(exp.GetSpans()))
	}
	tr.sweep(time.Now())
	if len(tr.open) != 0 || len(exp.GetSpans()) != 4 {
		t.Fatalf("after sweep: %d open, %d ended", len(tr.open), len(exp.GetSpans()))
	}
	for _, s := range exp.GetSpans() {
		if s.Status.Description == "" {
			t.Errorf("span %v ended without a reason", s.SpanContext.SpanID())
		}
	}
	var nilTracer *tracer
	nilTracer.connClosed(1) // tracing off: no-op
	nilTracer.endAll("x")
}

// With tracing off (a nil *tracer) the member's per-command hooks allocate nothing.
func TestTracerOffAllocatesNothing(t *testing.T) {
	var tr *tracer
	msg := decodedRequest(t, tracedRequest(t, 1, "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"))
	cmd := session.ClientRequest{Session: "s", RequestID: 1, Payload: []byte("incr")}
	var resp protocol.ServerMessage = &protocol.ClientResponse{RequestID: 1, Result: []byte("1")}
	allocs := testing.AllocsPerRun(1000, func() {
		tr.received(1, "s", msg)
		tr.proposed(cmd)
		tr.applied(cmd)
		if tr.sent(1, "s", resp) != resp {
			t.Fatal("the nil tracer changed the reply")
		}
		tr.connClosed(1)
		tr.sweep(time.Now())
	})
	if allocs != 0 {
		t.Fatalf("tracing off: %v allocations per command", allocs)
	}
}

// The receipt hands the SDK the message's own parent (trace id, span id, remote, flags,
// tracestate) through the tracer's one reused parent, and clears that parent afterwards:
// consecutive receipts from different traces must not see each other's parent.
func TestTracerReceiptParentPerMessage(t *testing.T) {
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	defer func() { _ = tp.Shutdown(context.Background()) }()
	tr := newTracer(tp, "node-1", testLogger())
	parents := []string{
		"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
		"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
	}
	states := []string{"", "congo=t61rcWkgMzE"}
	for i, p := range parents {
		m := &protocol.ClientRequest{RequestID: protocol.RequestID(i + 1), Payload: []byte("incr"),
			Ext: &protocol.Extensions{TraceParent: p, TraceState: states[i]}}
		tr.received(1, "s", m)
		if tr.parent.sc.IsValid() {
			t.Fatalf("receipt %d left its parent in the reused context", i)
		}
	}
	for i := range parents {
		tr.sent(1, "s", &protocol.ClientResponse{RequestID: protocol.RequestID(i + 1)})
	}
	spans := exp.GetSpans()
	if len(spans) != len(parents) {
		t.Fatalf("%d spans, want %d", len(spans), len(parents))
	}
	for i, s := range spans {
		want, ok := telemetry.ParseTraceParent(parents[i])
		if !ok {
			t.Fatal("bad test traceparent")
		}
		got := s.Parent
		if got.TraceID() != want.TraceID() || got.SpanID() != want.SpanID() || !got.IsRemote() ||
			got.TraceFlags() != want.TraceFlags() || got.TraceState().String() != states[i] {
			t.Errorf("span %d: parent %v/%v remote=%v state %q, want %v/%v remote state %q", i,
				got.TraceID(), got.SpanID(), got.IsRemote(), got.TraceState().String(), want.TraceID(), want.SpanID(), states[i])
		}
		if s.SpanContext.TraceID() != want.TraceID() {
			t.Errorf("span %d in trace %v, want the client's %v", i, s.SpanContext.TraceID(), want.TraceID())
		}
	}
}

// A traced receipt and reply allocate no more than the SDK itself needs for a span
// started from a ready context, given its attributes and ended: the tracer adds no
// allocation of its own (no context, no boxed parent, no attribute slice).
func TestTracerReceiptAllocatesOnlyTheSDKs(t *testing.T) {
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(tracetest.NewNoopExporter()))
	defer func() { _ = tp.Shutdown(context.Background()) }()
	tr := newTracer(tp, "node-1", testLogger())
	const parent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
	msg := decodedRequest(t, tracedRequest(t, 1, parent))
	var resp protocol.ServerMessage = &protocol.ClientResponse{RequestID: 1, Result: []byte("1")}
	ours := testing.AllocsPerRun(1000, func() {
		tr.received(1, "s", msg)
		tr.sent(1, "s", resp)
	})
	if len(tr.open) != 0 {
		t.Fatal("the reply did not end the span")
	}
	sc, _ := telemetry.ParseTraceParent(parent)
	ctx := trace.ContextWithRemoteSpanContext(context.Background(), sc)
	sdkTracer := tp.Tracer(telemetry.ScopeName)
	opts := []trace.SpanStartOption{trace.WithSpanKind(trace.SpanKindServer)}
	attrs := []attribute.KeyValue{telemetry.AttrSessionID.String("s"), telemetry.AttrRequestID.Int64(1), telemetry.AttrMemberID.String("node-1")}
	sdk := testing.AllocsPerRun(1000, func() {
		_, span := sdkTracer.Start(ctx, telemetry.SpanServerCommand, opts...)
		span.SetAttributes(attrs...)
		span.End()
	})
	if ours > sdk {
		t.Fatalf("receipt and reply: %v allocations, the SDK's own span work %v", ours, sdk)
	}
}

// A request whose client trace is not sampled gets no server span to follow: with the
// default parent-based sampler the member neither records nor tracks it, and a sampled
// one is tracked until its reply.
func TestTracerFollowsSampledRequestsOnly(t *testing.T) {
	exp := tracetest.NewInMemoryExporter()
	tp := spanrec.New(spanrec.Options{Exporters: []sdktrace.SpanExporter{exp}})
	defer func() { _ = tp.Shutdown(context.Background()) }()
	tr := newTracer(tp, "node-1", testLogger())
	const (
		sampled   = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
		unsampled = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00"
	)
	tr.received(1, "s", decodedRequest(t, tracedRequest(t, 1, unsampled)))
	if len(tr.open) != 0 {
		t.Fatalf("an unsampled request is tracked: %d open", len(tr.open))
	}
	tr.received(1, "s", decodedRequest(t, tracedRequest(t, 2, sampled)))
	if len(tr.open) != 1 {
		t.Fatalf("a sampled request is not tracked: %d open", len(tr.open))
	}
	tr.sent(1, "s", &protocol.ClientResponse{RequestID: 1, Result: []byte("1")})
	tr.sent(1, "s", &protocol.ClientResponse{RequestID: 2, Result: []byte("1")})
	if err := tp.ForceFlush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := exp.GetSpans(); len(tr.open) != 0 || len(got) != 1 || got[0].Parent.TraceFlags() != trace.FlagsSampled {
		t.Fatalf("%d open, exported %v", len(tr.open), got)
	}
}
