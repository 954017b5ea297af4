package spanrec_test

import (
	"context"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/zraft/zraft/adapters/telemetry/internal/testutil"
	"github.com/zraft/zraft/adapters/telemetry/otlphttp"
	"github.com/zraft/zraft/adapters/telemetry/spanrec"
)

// discardFast is a FastExporter that discards.
type discardFast struct{ *tracetest.NoopExporter }

func (discardFast) Export(context.Context, *resource.Resource, []otlphttp.Span) error { return nil }

// BenchmarkMemberSpan is the member's span for one command: started under a remote
// parent, three attributes, two events, ended, and exported to an exporter that
// discards, with the export goroutine's work counted (cpu-ns/span is the process's CPU
// time, flushes included, per span):
//
//   - sdk: the SDK's provider and batch span processor;
//   - spanrec-snapshot: this package, with an exporter that takes ReadOnlySpans;
//   - spanrec-fast: this package, with a FastExporter.
func BenchmarkMemberSpan(b *testing.B) {
	parent := trace.ContextWithRemoteSpanContext(context.Background(), remoteParent)
	attrs := []attribute.KeyValue{attribute.String("zraft.session.id", "0a1b2c3d-4e5f-6071-8293-a4b5c6d7e8f9"),
		attribute.Int64("zraft.request.id", 5), attribute.String("zraft.member.id", "node-1")}
	opts := []trace.SpanStartOption{trace.WithSpanKind(trace.SpanKindServer)}
	for _, mode := range []string{"sdk", "spanrec-snapshot", "spanrec-fast"} {
		b.Run(mode, func(b *testing.B) {
			var (
				tp    trace.TracerProvider
				flush func(context.Context) error
			)
			switch mode {
			case "sdk":
				p := sdktrace.NewTracerProvider(sdktrace.WithBatcher(tracetest.NewNoopExporter()))
				b.Cleanup(func() { _ = p.Shutdown(context.Background()) })
				tp, flush = p, p.ForceFlush
			default:
				var exp sdktrace.SpanExporter = tracetest.NewNoopExporter()
				if mode == "spanrec-fast" {
					exp = discardFast{tracetest.NewNoopExporter()}
				}
				p := spanrec.New(spanrec.Options{Exporters: []sdktrace.SpanExporter{exp}, MaxQueueSize: 1 << 20})
				b.Cleanup(func() { _ = p.Shutdown(context.Background()) })
				tp, flush = p, p.ForceFlush
			}
			tr := tp.Tracer("github.com/zraft/zraft")
			b.ReportAllocs()
			cpu0 := testutil.ProcessCPU()
			for b.Loop() {
				_, s := tr.Start(parent, "zraft.server.command", opts...)
				s.SetAttributes(attrs...)
				s.AddEvent("proposed")
				s.AddEvent("applied")
				s.End()
			}
			if err := flush(context.Background()); err != nil {
				b.Fatal(err)
			}
			b.ReportMetric(float64((testutil.ProcessCPU()-cpu0).Nanoseconds())/float64(b.N), "cpu-ns/span")
		})
	}
}
