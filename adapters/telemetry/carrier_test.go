package telemetry_test

import (
	"context"
	"testing"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/zraft/zraft/adapters/telemetry"
	"github.com/zraft/zraft/protocol"
)

// newTracer returns a tracer that samples everything into an in-memory exporter.
func newTracer(t *testing.T) (trace.Tracer, *tracetest.InMemoryExporter) {
	t.Helper()
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp), sdktrace.WithSampler(sdktrace.AlwaysSample()))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	return tp.Tracer(telemetry.ScopeName), exp
}

func withTraceState(t *testing.T, ctx context.Context, ts string) context.Context {
	t.Helper()
	state, err := trace.ParseTraceState(ts)
	if err != nil {
		t.Fatal(err)
	}
	sc := trace.SpanContextFromContext(ctx).WithTraceState(state)
	return trace.ContextWithSpanContext(ctx, sc)
}

// A command's trace context survives the wire: the client's span is the parent of the
// member's span, in one trace, with the tracestate intact.
func TestClientRequestCarriesTraceContext(t *testing.T) {
	tracer, exp := newTracer(t)
	ctx, clientSpan := tracer.Start(context.Background(), "zraft.submit", trace.WithSpanKind(trace.SpanKindClient))
	ctx = withTraceState(t, ctx, "zraft=abc,vendor=x1")

	req := &protocol.ClientRequest{RequestID: 7, LowestPendingRequestID: 7, Payload: []byte("S"), CreatedAt: 1}
	req.Ext = telemetry.WithTraceContext(ctx, req.Ext)
	wire, err := protocol.AppendClientMessage(nil, req)
	if err != nil {
		t.Fatal(err)
	}
	decoded, err := protocol.DecodeClientMessage(wire)
	if err != nil {
		t.Fatal(err)
	}
	got := decoded.(*protocol.ClientRequest)

	serverCtx := telemetry.Extract(context.Background(), got.Ext)
	remote := trace.SpanContextFromContext(serverCtx)
	want := trace.SpanContextFromContext(ctx)
	if !remote.IsRemote() || remote.TraceID() != want.TraceID() || remote.SpanID() != want.SpanID() {
		t.Fatalf("extracted %v, want remote copy of %v", remote, want)
	}
	if !remote.IsSampled() {
		t.Error("sampled flag lost")
	}
	if remote.TraceState().String() != "zraft=abc,vendor=x1" {
		t.Errorf("tracestate %q", remote.TraceState().String())
	}

	_, serverSpan := tracer.Start(serverCtx, "zraft.command", trace.WithSpanKind(trace.SpanKindServer))
	serverSpan.End()
	clientSpan.End()

	spans := exp.GetSpans()
	if len(spans) != 2 {
		t.Fatalf("%d spans", len(spans))
	}
	server, client := spans[0], spans[1]
	if server.SpanContext.TraceID() != client.SpanContext.TraceID() {
		t.Error("client and server spans are in different traces")
	}
	if server.Parent.SpanID() != client.SpanContext.SpanID() || !server.Parent.IsRemote() {
		t.Errorf("server span's parent %v, want remote %v", server.Parent.SpanID(), client.SpanContext.SpanID())
	}
}

// A server-initiated request carries the member's span to the client, whose handling
// span joins the same trace.
func TestServerRequestCarriesTraceContext(t *testing.T) {
	tracer, exp := newTracer(t)
	ctx, serverSpan := tracer.Start(context.Background(), "zraft.server_request", trace.WithSpanKind(trace.SpanKindProducer))
	msg := &protocol.ServerRequest{RequestID: 1, Payload: []byte("N"), CreatedAt: 1, Ext: &protocol.Extensions{}}
	telemetry.Inject(ctx, msg.Ext)
	wire, err := protocol.AppendServerMessage(nil, msg)
	if err != nil {
		t.Fatal(err)
	}
	decoded, err := protocol.DecodeServerMessage(wire)
	if err != nil {
		t.Fatal(err)
	}
	clientCtx := telemetry.Extract(context.Background(), decoded.(*protocol.ServerRequest).Ext)
	_, clientSpan := tracer.Start(clientCtx, "zraft.handle_server_request", trace.WithSpanKind(trace.SpanKindConsumer))
	clientSpan.End()
	serverSpan.End()
	spans := exp.GetSpans()
	if len(spans) != 2 || spans[0].Parent.SpanID() != spans[1].SpanContext.SpanID() ||
		spans[0].SpanContext.TraceID() != spans[1].SpanContext.TraceID() {
		t.Fatalf("client span is not the server span's child: %+v", spans)
	}
	if msg.Ext.TraceState != "" {
		t.Errorf("tracestate %q without a trace state", msg.Ext.TraceState)
	}
}

func TestQueryCarriesTraceContext(t *testing.T) {
	tracer, _ := newTracer(t)
	ctx, span := tracer.Start(context.Background(), "zraft.query")
	defer span.End()
	q := &protocol.Query{CorrelationID: "c1", Payload: []byte("G"), CreatedAt: 1,
		Ext: &protocol.Extensions{Consistency: protocol.ConsistencyLease}}
	q.Ext = telemetry.WithTraceContext(ctx, q.Ext)
	wire, err := protocol.AppendClientMessage(nil, q)
	if err != nil {
		t.Fatal(err)
	}
	decoded, err := protocol.DecodeClientMessage(wire)
	if err != nil {
		t.Fatal(err)
	}
	ext := decoded.(*protocol.Query).Ext
	if ext.Consistency != protocol.ConsistencyLease {
		t.Error("other entries of the block lost")
	}
	got := trace.SpanContextFromContext(telemetry.Extract(context.Background(), ext))
	if got.SpanID() != span.SpanContext().SpanID() || got.TraceID() != span.SpanContext().TraceID() {
		t.Fatalf("extracted %v, want %v", got, span.SpanContext())
	}
}

func TestInjectWithoutSpan(t *testing.T) {
	if e := telemetry.WithTraceContext(context.Background(), nil); e != nil {
		t.Fatalf("block %+v allocated without a span", e)
	}
	telemetry.Inject(context.Background(), nil) // must not panic

	stale := &protocol.Extensions{Version: 1, TraceParent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", TraceState: "a=b"}
	if got := telemetry.WithTraceContext(context.Background(), stale); got != stale || got.TraceParent != "" || got.TraceState != "" || got.Version != 1 {
		t.Fatalf("stale trace context kept or other fields changed: %+v", got)
	}
}

// A reused block never keeps the tracestate of an earlier span.
func TestInjectReplacesStaleTraceState(t *testing.T) {
	tracer, _ := newTracer(t)
	ctx, span := tracer.Start(context.Background(), "s")
	defer span.End()
	e := &protocol.Extensions{TraceParent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", TraceState: "old=1"}
	telemetry.Inject(ctx, e)
	if e.TraceState != "" {
		t.Errorf("stale tracestate %q kept", e.TraceState)
	}
	want := "00-" + span.SpanContext().TraceID().String() + "-" + span.SpanContext().SpanID().String() + "-01"
	if e.TraceParent != want {
		t.Errorf("traceparent %q, want %q", e.TraceParent, want)
	}
}

func TestExtractIgnoresInvalidTraceParent(t *testing.T) {
	valid := "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
	for name, tp := range map[string]string{
		"empty":              "",
		"garbage":            "not a traceparent",
		"zero trace id":      "00-00000000000000000000000000000000-b7ad6b7169203331-01",
		"zero span id":       "00-0af7651916cd43dd8448eb211c80319c-0000000000000000-01",
		"upper case":         "00-0AF7651916CD43DD8448EB211C80319C-B7AD6B7169203331-01",
		"version ff":         "ff-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
		"short trace id":     "00-0af7651916cd43dd8448eb211c8031-b7ad6b7169203331-01",
		"extra field v00":    valid + "-extra",
		"truncated":          valid[:40],
		"non-hex":            "00-0af7651916cd43dd8448eb211c80319z-b7ad6b7169203331-01",
		"huge":               valid + string(make([]byte, 1<<20)),
		"missing separators": "000af7651916cd43dd8448eb211c80319cb7ad6b716920333101",
	} {
		t.Run(name, func(t *testing.T) {
			type key struct{}
			parent := context.WithValue(context.Background(), key{}, "kept")
			ctx := telemetry.Extract(parent, &protocol.Extensions{TraceParent: tp, TraceState: "a=b"})
			if sc := trace.SpanContextFromContext(ctx); sc.IsValid() {
				t.Fatalf("accepted %q as %v", tp, sc)
			}
			if ctx.Value(key{}) != "kept" {
				t.Fatal("lost the parent context")
			}
		})
	}
	if ctx := telemetry.Extract(context.Background(), nil); trace.SpanContextFromContext(ctx).IsValid() {
		t.Fatal("nil block gave a span context")
	}
}

// W3C: a malformed tracestate must not cost the traceparent.
func TestExtractDropsInvalidTraceState(t *testing.T) {
	for _, ts := range []string{"=", "a=b,a=c", "Upper=1", "a=b=c", string(make([]byte, 1<<16))} {
		ctx := telemetry.Extract(context.Background(), &protocol.Extensions{
			TraceParent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", TraceState: ts})
		sc := trace.SpanContextFromContext(ctx)
		if !sc.IsValid() || sc.TraceID().String() != "0af7651916cd43dd8448eb211c80319c" {
			t.Fatalf("tracestate %.20q cost the traceparent", ts)
		}
		if sc.TraceState().Len() != 0 {
			t.Errorf("tracestate %.20q accepted as %q", ts, sc.TraceState().String())
		}
	}
}
