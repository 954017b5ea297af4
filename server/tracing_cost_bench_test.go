package server

import (
	"context"
	"sync/atomic"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/zraft/zraft/adapters/telemetry"
	"github.com/zraft/zraft/adapters/telemetry/otlphttp"
	"github.com/zraft/zraft/adapters/telemetry/spanrec"
	"github.com/zraft/zraft/domain/session"
	"github.com/zraft/zraft/protocol"
)

// BenchmarkTracingPerCommand is the whole tracing work of one command, both sides, without
// the rest of the command: what BenchmarkSubmitTracing cannot resolve on a shared
// machine, where one command's CPU varies by a third from run to run. One iteration:
//
//   - client: start the call's span (kind client), format its traceparent, encode the
//     ClientRequest with the extension block, and at completion set the three
//     attributes and end the span, as client.Client does (client/tracing.go; the client's
//     own functions are internal to its module);
//   - member: decode the request, and the member's tracer (server/tracing.go, the real
//     one) from receipt through "proposed" and "applied" to the reply;
//   - export: both spans, recorded and exported in batches to an OTLP/HTTP collector
//     in another process (collector_test.go), by the export goroutine of this process
//     (the loop waits for the export every 1,024 commands, so that no span is dropped).
//
// Modes: "untraced" encodes and decodes the same request without extension block and
// runs the off hooks (what an untraced command does of the above); "recorder" is zraftd's
// set-up (spanrec and otlphttp, every trace sampled); "recorder-ratio-0.1" the same with
// OTEL_TRACES_SAMPLER=parentbased_traceidratio and a ratio of 0.1 on both sides (the
// other nine commands in ten still carry an unsampled trace context); "sdk" the OpenTelemetry SDK's
// provider with its batch span processor and OTLP/HTTP exporter. cpu-ns/cmd is the
// process's CPU time per iteration, export goroutine and garbage collection included; a
// mode's tracing cost is its figure minus untraced's.
func BenchmarkTracingPerCommand(b *testing.B) {
	for _, mode := range []string{"untraced", "recorder", "recorder-ratio-0.1", "sdk"} {
		b.Run(mode, func(b *testing.B) { benchTracingPerCommand(b, mode) })
	}
}

func benchTracingPerCommand(b *testing.B, mode string) {
	var (
		tp    trace.TracerProvider
		flush func(context.Context) error
	)
	switch mode {
	case "recorder", "recorder-ratio-0.1":
		sampler := sdktrace.AlwaysSample()
		if mode == "recorder-ratio-0.1" {
			sampler = sdktrace.ParentBased(sdktrace.TraceIDRatioBased(0.1))
		}
		exp, err := otlphttp.New(context.Background(), otlphttp.WithEndpointURL(startCollector(b)))
		if err != nil {
			b.Fatal(err)
		}
		var failed atomic.Int64
		p := spanrec.New(spanrec.Options{Sampler: sampler, Exporters: []sdktrace.SpanExporter{exp},
			ErrorHandler: func(err error) { failed.Add(1); b.Log(err) }})
		b.Cleanup(func() {
			_ = p.Shutdown(context.Background())
			if p.Dropped() > 0 || failed.Load() > 0 {
				b.Errorf("%d spans dropped, %d export errors", p.Dropped(), failed.Load())
			}
		})
		tp, flush = p, p.ForceFlush
	case "sdk":
		exp, err := otlptracehttp.New(context.Background(), otlptracehttp.WithEndpointURL(startCollector(b)))
		if err != nil {
			b.Fatal(err)
		}
		p := sdktrace.NewTracerProvider(sdktrace.WithSampler(sdktrace.AlwaysSample()), sdktrace.WithBatcher(exp))
		b.Cleanup(func() { _ = p.Shutdown(context.Background()) })
		tp, flush = p, p.ForceFlush
	}
	const sess = "0a1b2c3d-4e5f-6071-8293-a4b5c6d7e8f9"
	var (
		member  *tracer
		ctr     trace.Tracer
		buf     []byte
		payload = []byte("incr")
		attrs   [3]attribute.KeyValue
		opts    = []trace.SpanStartOption{trace.WithSpanKind(trace.SpanKindClient)}
	)
	if tp != nil {
		member = newTracer(tp, "node-1", testLogger())
		ctr = tp.Tracer("github.com/zraft/zraft/client")
	}
	ctx := context.Background()
	b.ReportAllocs()
	cpu0 := processCPU(b)
	var id uint64
	for b.Loop() {
		id++
		req := protocol.ClientRequest{RequestID: protocol.RequestID(id), LowestPendingRequestID: protocol.RequestID(id),
			Payload: payload, CreatedAt: 1}
		var span trace.Span
		if ctr != nil {
			_, span = ctr.Start(ctx, "zraft.client.submit", opts...)
			req.Ext = &protocol.Extensions{TraceParent: telemetry.TraceParent(span.SpanContext())}
		}
		var err error
		buf, err = protocol.AppendClientMessage(buf[:0], &req)
		if err != nil {
			b.Fatal(err)
		}
		msg, err := protocol.DecodeClientMessage(buf)
		if err != nil {
			b.Fatal(err)
		}
		cmd := session.ClientRequest{Session: sess, RequestID: id, Payload: payload}
		member.received(1, sess, msg)
		member.proposed(cmd)
		member.applied(cmd)
		member.sent(1, sess, &protocol.ClientResponse{RequestID: protocol.RequestID(id), Result: payload})
		if span != nil {
			attrs = [3]attribute.KeyValue{telemetry.AttrSessionID.String(sess), telemetry.AttrRequestID.Int64(int64(id)),
				telemetry.AttrMemberID.String("node-1")}
			span.SetAttributes(attrs[:]...)
			span.End()
		}
		// A loop this tight ends spans faster than they can be exported: wait for the
		// export every 1,024 commands rather than let the queue drop them (the SDK's
		// processor would drop them silently and look cheaper than it is).
		if flush != nil && id%1024 == 0 {
			if err := flush(context.Background()); err != nil {
				b.Fatal(err)
			}
		}
	}
	if flush != nil {
		if err := flush(context.Background()); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64((processCPU(b)-cpu0).Nanoseconds())/float64(b.N), "cpu-ns/cmd")
}
