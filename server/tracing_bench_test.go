package server

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"

	"github.com/zraft/zraft/adapters/telemetry/otlphttp"
	"github.com/zraft/zraft/adapters/telemetry/spanrec"
	"github.com/zraft/zraft/client"
	"github.com/zraft/zraft/domain/session"
	"github.com/zraft/zraft/protocol"
)

// processCPU returns the CPU time (user + system) the whole process has used so far:
// member, client and exporter all run in this process.
func processCPU(tb testing.TB) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		tb.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkSubmitTracing measures pipelined Submit (64 in flight) with one client in the
// same process as the cluster, on 1 member (1m/…: the worst case, where tracing is the
// largest share of the work) and on 3 members (3m/…: production's shape, the leader
// replicating to two followers; all three run in this process, so their CPU counts):
//
//   - off: no tracer provider anywhere (what runs is the off-path hooks);
//   - member: the members trace with zraftd's recorder, the client sends no trace
//     context (the members only look for one);
//   - both: client and members trace every command (AlwaysSample) as export.Setup sets
//     it up for OTLP over HTTP: the span recorder (adapters/telemetry/spanrec) and the
//     otlphttp exporter, posting every batch to a collector process (the test binary
//     itself, see collector_test.go) that reads the request and discards it;
//   - recorder: the same, with an exporter that discards the spans it is handed
//     (recording alone, without encoding and posting);
//   - sdk: client and members trace every command with the OpenTelemetry SDK's own
//     provider and batch span processor in front of an exporter that discards (what
//     zraft used before spanrec; for comparison).
//
// Besides cmd/s it reports cpu-µs/cmd, the process's user+system CPU time over the timed
// loop divided by b.N: on a shared machine CPU per command is far less noisy than
// throughput. Issue 9's overhead targets compare the modes.
func BenchmarkSubmitTracing(b *testing.B) {
	for _, members := range []int{1, 3} {
		for _, mode := range []string{"off", "member", "both", "recorder", "sdk"} {
			b.Run(fmt.Sprintf("%dm/%s", members, mode), func(b *testing.B) {
				benchSubmitTracing(b, members, mode)
			})
		}
	}
}

// benchTracerProvider returns the tracer provider of a BenchmarkSubmitTracing mode
// (nil for off), shut down when the benchmark ends; a recorder that dropped spans fails
// the benchmark (the figures would flatter it).
func benchTracerProvider(b *testing.B, mode string) trace.TracerProvider {
	switch mode {
	case "off":
		return nil
	case "sdk":
		tp := sdktrace.NewTracerProvider(sdktrace.WithSampler(sdktrace.AlwaysSample()),
			sdktrace.WithBatcher(tracetest.NewNoopExporter()))
		b.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
		return tp
	}
	var exp sdktrace.SpanExporter = discardFast{tracetest.NewNoopExporter()}
	if mode != "recorder" {
		e, err := otlphttp.New(context.Background(), otlphttp.WithEndpointURL(startCollector(b)))
		if err != nil {
			b.Fatal(err)
		}
		exp = e
	}
	var failed atomic.Int64
	tp := spanrec.New(spanrec.Options{Sampler: sdktrace.AlwaysSample(), Exporters: []sdktrace.SpanExporter{exp},
		ErrorHandler: func(err error) { failed.Add(1); b.Log(err) }})
	b.Cleanup(func() {
		_ = tp.Shutdown(context.Background())
		if d := tp.Dropped(); d > 0 || failed.Load() > 0 {
			b.Errorf("%d spans dropped, %d export errors", d, failed.Load())
		}
	})
	return tp
}

func benchSubmitTracing(b *testing.B, members int, mode string) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var sopts []Option
	copts := []client.Option{client.WithLogger(testLogger())}
	if tp := benchTracerProvider(b, mode); tp != nil {
		sopts = append(sopts, WithTracerProvider(tp))
		if mode != "member" {
			copts = append(copts, client.WithTracerProvider(tp))
		}
	}
	cl := newCluster(b, members, nil, func() session.Application { return &counterApp{} }, sopts...)
	cl.leader(ctx)
	var eps []string
	for id, ep := range cl.endpoints {
		eps = append(eps, id+"="+ep)
	}
	sort.Strings(eps)
	c, err := client.Dial(ctx, strings.Join(eps, ","), copts...)
	if err != nil {
		b.Fatal(err)
	}
	defer func() { _ = c.Close(context.Background()) }()
	const window = 64
	calls := make([]*client.Call, 0, window)
	b.ResetTimer()
	cpu0 := processCPU(b)
	for i := 0; i < b.N; i++ {
		calls = append(calls, c.SubmitAsync(ctx, []byte("incr")))
		if len(calls) == window || i == b.N-1 {
			for _, call := range calls {
				if _, err := call.Wait(ctx); err != nil {
					b.Fatal(err)
				}
			}
			calls = calls[:0]
		}
	}
	cpu := processCPU(b) - cpu0
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "cmd/s")
	b.ReportMetric(float64(cpu.Microseconds())/float64(b.N), "cpu-µs/cmd")
}

// tracedRequest returns an encoded ClientRequest carrying a traceparent (or none).
func tracedRequest(tb testing.TB, id uint64, traceparent string) []byte {
	m := &protocol.ClientRequest{RequestID: protocol.RequestID(id), LowestPendingRequestID: protocol.RequestID(id),
		Payload: []byte("incr"), CreatedAt: 1}
	if traceparent != "" {
		m.Ext = &protocol.Extensions{TraceParent: traceparent}
	}
	b, err := protocol.AppendClientMessage(nil, m)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// decodedRequest decodes b as the gateway does before the tracer sees it.
func decodedRequest(tb testing.TB, b []byte) protocol.ClientMessage {
	m, err := protocol.DecodeClientMessage(b)
	if err != nil {
		tb.Fatal(err)
	}
	return m
}

// BenchmarkTracerCommand is what the member's tracer does for one command, from receipt
// to reply, without the rest of the member (the message arrives decoded, as the gateway
// hands it over): "off" is the nil tracer (tracing off), "untraced" a tracing member
// and a message without trace context, "traced" a message with one, every span sampled
// into zraftd's recorder, "traced-sdk" into the SDK's batch span processor; both
// exporters discard the spans.
func BenchmarkTracerCommand(b *testing.B) {
	const parent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
	for _, mode := range []string{"off", "untraced", "traced", "traced-sdk"} {
		b.Run(mode, func(b *testing.B) {
			var tr *tracer
			switch mode {
			case "traced-sdk":
				tp := sdktrace.NewTracerProvider(sdktrace.WithSampler(sdktrace.AlwaysSample()),
					sdktrace.WithBatcher(tracetest.NewNoopExporter()))
				b.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
				tr = newTracer(tp, "node-1", testLogger())
			case "untraced", "traced":
				tp := spanrec.New(spanrec.Options{Sampler: sdktrace.AlwaysSample(), MaxQueueSize: 1 << 16,
					Exporters: []sdktrace.SpanExporter{discardFast{tracetest.NewNoopExporter()}}})
				b.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
				tr = newTracer(tp, "node-1", testLogger())
			}
			tp := parent
			if mode == "untraced" {
				tp = ""
			}
			const n = 64
			msgs := make([]protocol.ClientMessage, n)
			for i := range msgs {
				msgs[i] = decodedRequest(b, tracedRequest(b, uint64(i+1), tp))
			}
			const sess = "0a1b2c3d-4e5f-6071-8293-a4b5c6d7e8f9"
			cmds := make([]session.ClientRequest, n)
			resps := make([]protocol.ServerMessage, n)
			for i := range n {
				cmds[i] = session.ClientRequest{Session: sess, RequestID: uint64(i + 1), Payload: []byte("incr")}
				resps[i] = &protocol.ClientResponse{RequestID: protocol.RequestID(i + 1), Result: []byte("1")}
			}
			b.ReportAllocs()
			cpu0 := processCPU(b)
			i := 0
			for b.Loop() {
				tr.received(1, sess, msgs[i%n])
				tr.proposed(cmds[i%n])
				tr.applied(cmds[i%n])
				tr.sent(1, sess, resps[i%n])
				i++
			}
			b.ReportMetric(float64((processCPU(b)-cpu0).Nanoseconds())/float64(b.N), "cpu-ns/op")
		})
	}
}

// discardFast is a spanrec.FastExporter that discards.
type discardFast struct{ *tracetest.NoopExporter }

func (discardFast) Export(context.Context, *resource.Resource, []otlphttp.Span) error { return nil }
