package client

import (
	"context"
	"testing"
)

// BenchmarkStartSpanOff is everything the client runs for tracing on a call when no
// tracer provider is set (the off path): startSpan and endSpan with no tracer. Relate
// it to the CPU time of a whole Submit (server's BenchmarkSubmitTracing, cpu-µs/cmd).
func BenchmarkStartSpanOff(b *testing.B) {
	c := &Client{opts: &options{}}
	o := &opCall{}
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		_, span := c.startSpan(ctx, o)
		endSpan(span, nil)
	}
}
