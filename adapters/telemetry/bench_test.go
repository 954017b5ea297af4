package telemetry_test

import (
	"context"
	"testing"
	"time"

	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/metric/noop"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	tracenoop "go.opentelemetry.io/otel/trace/noop"

	"github.com/zraft/zraft/adapters/telemetry"
	"github.com/zraft/zraft/adapters/telemetry/otlphttp"
	"github.com/zraft/zraft/adapters/telemetry/spanrec"
	"github.com/zraft/zraft/protocol"
)

func meters(b *testing.B) map[string]metric.Meter {
	sdk, _ := newMeter(b)
	return map[string]metric.Meter{"noop": noop.Meter{}, "sdk": sdk}
}

// BenchmarkServerCommand records what a member records per command: the answer, the
// commit and the apply durations.
func BenchmarkServerCommand(b *testing.B) {
	for _, name := range []string{"noop", "sdk"} {
		b.Run(name, func(b *testing.B) {
			m, err := telemetry.NewServerMetrics(meters(b)[name])
			if err != nil {
				b.Fatal(err)
			}
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				m.CommandAnswered(ctx, telemetry.OutcomeApplied)
				m.CommitDuration(ctx, 2*time.Millisecond)
				m.ApplyDuration(ctx, 10*time.Microsecond)
			}
		})
	}
}

// BenchmarkClientCommand records what a client records per command.
func BenchmarkClientCommand(b *testing.B) {
	for _, name := range []string{"noop", "sdk"} {
		b.Run(name, func(b *testing.B) {
			m, err := telemetry.NewClientMetrics(meters(b)[name])
			if err != nil {
				b.Fatal(err)
			}
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				m.CommandDone(ctx, 3*time.Millisecond, nil)
			}
		})
	}
}

// BenchmarkClientCommandParallel is BenchmarkClientCommand from every P at once: the
// SDK's instruments are shared, so this shows their contention.
func BenchmarkClientCommandParallel(b *testing.B) {
	for _, name := range []string{"noop", "sdk"} {
		b.Run(name, func(b *testing.B) {
			m, err := telemetry.NewClientMetrics(meters(b)[name])
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				ctx := context.Background()
				for pb.Next() {
					m.CommandDone(ctx, 3*time.Millisecond, nil)
				}
			})
		})
	}
}

// BenchmarkSpanAndPropagation is the tracing work of one command on the client side:
// a span started and ended, its context injected into the extension block and
// extracted again (as the member does). "sdk" samples every span into the SDK's batch
// processor, "spanrec" into zraftd's recorder; both exporters discard the spans.
func BenchmarkSpanAndPropagation(b *testing.B) {
	sdk := sdktrace.NewTracerProvider(sdktrace.WithSampler(sdktrace.AlwaysSample()),
		sdktrace.WithBatcher(tracetest.NewNoopExporter()))
	b.Cleanup(func() { _ = sdk.Shutdown(context.Background()) })
	rec := spanrec.New(spanrec.Options{Sampler: sdktrace.AlwaysSample(), MaxQueueSize: 1 << 16,
		Exporters: []sdktrace.SpanExporter{discardFast{tracetest.NewNoopExporter()}}})
	b.Cleanup(func() { _ = rec.Shutdown(context.Background()) })
	for _, c := range []struct {
		name string
		tp   trace.TracerProvider
	}{{"noop", tracenoop.NewTracerProvider()}, {"sdk", sdk}, {"spanrec", rec}} {
		name, tp := c.name, c.tp
		b.Run(name, func(b *testing.B) {
			tracer := tp.Tracer(telemetry.ScopeName)
			b.ReportAllocs()
			for b.Loop() {
				ctx, span := tracer.Start(context.Background(), "zraft.submit")
				ext := telemetry.WithTraceContext(ctx, nil)
				_ = telemetry.Extract(context.Background(), ext)
				span.End()
			}
		})
	}
}

// BenchmarkExtract is the member's side alone: reading a traceparent, without and with
// a tracestate.
func BenchmarkExtract(b *testing.B) {
	for name, ext := range map[string]*protocol.Extensions{
		"traceparent": {TraceParent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"},
		"tracestate":  {TraceParent: "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", TraceState: "zraft=1"},
	} {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if !trace.SpanContextFromContext(telemetry.Extract(context.Background(), ext)).IsValid() {
					b.Fatal("invalid")
				}
			}
		})
	}
}

// BenchmarkInject is the sending side alone: writing a span context into a block.
func BenchmarkInject(b *testing.B) {
	sc := trace.NewSpanContext(trace.SpanContextConfig{TraceID: trace.TraceID{1, 2, 3}, SpanID: trace.SpanID{4, 5, 6},
		TraceFlags: trace.FlagsSampled})
	ctx := trace.ContextWithSpanContext(context.Background(), sc)
	var e protocol.Extensions
	b.ReportAllocs()
	for b.Loop() {
		telemetry.Inject(ctx, &e)
	}
}

// discardFast is a spanrec.FastExporter that discards.
type discardFast struct{ *tracetest.NoopExporter }

func (discardFast) Export(context.Context, *resource.Resource, []otlphttp.Span) error { return nil }
