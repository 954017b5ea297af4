package telemetry_test

import (
	"context"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/zraft/zraft/adapters/telemetry"
	"github.com/zraft/zraft/protocol"
)

// reference is what propagation.TraceContext, the generic path that Extract replaced,
// makes of the two fields.
func reference(tp, ts string) trace.SpanContext {
	carrier := propagation.MapCarrier{}
	if tp != "" {
		carrier.Set("traceparent", tp)
	}
	if ts != "" {
		carrier.Set("tracestate", ts)
	}
	return trace.SpanContextFromContext(propagation.TraceContext{}.Extract(context.Background(), carrier))
}

// referenceInject is what propagation.TraceContext writes for sc.
func referenceInject(sc trace.SpanContext) (tp, ts string) {
	carrier := propagation.MapCarrier{}
	propagation.TraceContext{}.Inject(trace.ContextWithSpanContext(context.Background(), sc), carrier)
	return carrier.Get("traceparent"), carrier.Get("tracestate")
}

// sameAsReference fails t unless Extract and Inject agree with propagation.TraceContext on
// the fields (tp, ts).
func sameAsReference(t *testing.T, tp, ts string) {
	t.Helper()
	want := reference(tp, ts)
	got := trace.SpanContextFromContext(telemetry.Extract(context.Background(), &protocol.Extensions{TraceParent: tp, TraceState: ts}))
	if !got.Equal(want) || got.IsRemote() != want.IsRemote() {
		t.Fatalf("Extract(%q, %q) = %v (remote %v), propagation.TraceContext: %v (remote %v)",
			tp, ts, got, got.IsRemote(), want, want.IsRemote())
	}
	if !want.IsValid() {
		return
	}
	var e protocol.Extensions
	telemetry.Inject(trace.ContextWithSpanContext(context.Background(), want), &e)
	wantTP, wantTS := referenceInject(want)
	if e.TraceParent != wantTP || e.TraceState != wantTS {
		t.Fatalf("Inject(%v) = %q, %q; propagation.TraceContext: %q, %q", want, e.TraceParent, e.TraceState, wantTP, wantTS)
	}
}

const validParent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"

var traceParentCases = []struct{ tp, ts string }{
	{validParent, ""},
	{validParent, "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7"},
	{validParent, "not a tracestate"},
	{"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00", ""},
	{"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-02", ""},
	{"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-03", ""},
	{"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-04", ""},
	{"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-ff", ""},
	{"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01-", ""},
	{"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01-x", ""},
	{"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-010", ""},
	{"01-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-03-future", ""},
	{"01-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-ff-", ""},
	{"fe-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", ""},
	{"ff-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", ""},
	{"00-0AF7651916CD43DD8448EB211C80319C-B7AD6B7169203331-01", ""},
	{"00-00000000000000000000000000000000-b7ad6b7169203331-01", ""},
	{"00-0af7651916cd43dd8448eb211c80319c-0000000000000000-01", ""},
	{"00-0af7651916cd43dd8448eb211c80319c-b7ad6b716920333-01", ""},
	{"00-0af7651916cd43dd8448eb211c80319c-b7ad6b71692033311-01", ""},
	{"00_0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", ""},
	{"0-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01a", ""},
	{"00-0af7651916cd43dd8448eb211c80319g-b7ad6b7169203331-01", ""},
	{"00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331", ""},
	{"", "a=b"},
	{"zz-", "=,="},
	{strings.Repeat("-", 55), ""},
}

// TestTraceParentMatchesPropagator holds the direct parser and formatter to the generic
// propagation.TraceContext path, case by case (FuzzTraceParentMatchesPropagator goes on
// from these).
func TestTraceParentMatchesPropagator(t *testing.T) {
	for _, c := range traceParentCases {
		sameAsReference(t, c.tp, c.ts)
	}
	// Formatting: every flag combination, every hex digit.
	for f := range 256 {
		sc := trace.NewSpanContext(trace.SpanContextConfig{
			TraceID:    trace.TraceID{0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef, 0xfe, 0xdc, 0xba, 0x98, 0x76, 0x54, 0x32, 0x10},
			SpanID:     trace.SpanID{0xf0, 0x0f, 0xa5, 0x5a, 0, 1, 2, byte(f)},
			TraceFlags: trace.TraceFlags(f),
		})
		if got, _ := referenceInject(sc); telemetry.TraceParent(sc) != got {
			t.Fatalf("TraceParent(%v) = %q, propagation.TraceContext: %q", sc, telemetry.TraceParent(sc), got)
		}
	}
	if got := telemetry.TraceParent(trace.SpanContext{}); got != "" {
		t.Fatalf("TraceParent(invalid) = %q", got)
	}
}

// FuzzTraceParentMatchesPropagator: for any fields a peer can send, Extract and Inject
// agree with propagation.TraceContext.
func FuzzTraceParentMatchesPropagator(f *testing.F) {
	for _, c := range traceParentCases {
		f.Add(c.tp, c.ts)
	}
	f.Fuzz(func(t *testing.T, tp, ts string) {
		sameAsReference(t, tp, ts)
	})
}

// Extract parses the member's side without allocating beyond the context it returns
// (trace.ContextWithRemoteSpanContext: the context and the span value it holds).
func TestExtractAllocations(t *testing.T) {
	e := &protocol.Extensions{TraceParent: validParent}
	allocs := testing.AllocsPerRun(100, func() {
		if !trace.SpanContextFromContext(telemetry.Extract(context.Background(), e)).IsValid() {
			t.Fatal("invalid")
		}
	})
	if allocs > 2 {
		t.Fatalf("Extract allocates %v times, want at most 2 (the context)", allocs)
	}
	if n := testing.AllocsPerRun(100, func() { _, _ = telemetry.ParseTraceParent(validParent) }); n != 0 {
		t.Fatalf("ParseTraceParent allocates %v times", n)
	}
}
