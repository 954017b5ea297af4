package client

import (
	"context"
	"testing"

	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// traceParent writes what propagation.TraceContext writes, for every flag byte and
// every hex digit, and nothing for an invalid span context.
func TestTraceParentMatchesPropagator(t *testing.T) {
	for f := range 256 {
		sc := trace.NewSpanContext(trace.SpanContextConfig{
			TraceID:    trace.TraceID{0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef, 0xfe, 0xdc, 0xba, 0x98, 0x76, 0x54, 0x32, byte(f)},
			SpanID:     trace.SpanID{0xf0, 0x0f, 0xa5, 0x5a, 0, 1, 2, byte(255 - f)},
			TraceFlags: trace.TraceFlags(f),
		})
		carrier := propagation.MapCarrier{}
		propagation.TraceContext{}.Inject(trace.ContextWithSpanContext(context.Background(), sc), carrier)
		if got, want := traceParent(sc), carrier.Get("traceparent"); got != want {
			t.Fatalf("traceParent(%v) = %q, propagation.TraceContext: %q", sc, got, want)
		}
	}
	if got := traceParent(trace.SpanContext{}); got != "" {
		t.Fatalf("traceParent(invalid) = %q", got)
	}
}

// FuzzTraceParent: any trace id, span id and flags format as propagation.TraceContext
// formats them.
func FuzzTraceParent(f *testing.F) {
	f.Add([]byte{1, 2, 3}, []byte{4, 5}, byte(1))
	f.Add([]byte{}, []byte{}, byte(0))
	f.Fuzz(func(t *testing.T, tid, sid []byte, flags byte) {
		var cfg trace.SpanContextConfig
		copy(cfg.TraceID[:], tid)
		copy(cfg.SpanID[:], sid)
		cfg.TraceFlags = trace.TraceFlags(flags)
		sc := trace.NewSpanContext(cfg)
		carrier := propagation.MapCarrier{}
		propagation.TraceContext{}.Inject(trace.ContextWithSpanContext(context.Background(), sc), carrier)
		if got, want := traceParent(sc), carrier.Get("traceparent"); got != want {
			t.Fatalf("traceParent(%v) = %q, propagation.TraceContext: %q", sc, got, want)
		}
	})
}

// Without a tracer provider, starting and ending a call's span allocates nothing (the
// off path of tracing on the client).
func TestStartSpanOffAllocatesNothing(t *testing.T) {
	c := &Client{opts: &options{}}
	o := &opCall{}
	ctx := context.Background()
	allocs := testing.AllocsPerRun(1000, func() {
		_, span := c.startSpan(ctx, o)
		endSpan(span, nil)
	})
	if allocs != 0 {
		t.Fatalf("tracing off: %v allocations per call", allocs)
	}
}
