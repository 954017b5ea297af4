package server

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

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
//   - member: the members trace, the client sends no trace context (the members only
//     look for one);
//   - both: client and members trace every command (AlwaysSample), with the SDK set up
//     as adapters/telemetry/export sets it up for OTLP: a BatchSpanProcessor, here in
//     front of an exporter that discards the batches.
//
// Besides cmd/s it reports cpu-µs/cmd, the process's user+system CPU time over the timed
// loop divided by b.N: on a shared machine CPU per command is far less noisy than
// throughput. Issue 9's overhead targets compare the modes.
func BenchmarkSubmitTracing(b *testing.B) {
	for _, members := range []int{1, 3} {
		for _, mode := range []string{"off", "member", "both"} {
			b.Run(fmt.Sprintf("%dm/%s", members, mode), func(b *testing.B) {
				benchSubmitTracing(b, members, mode)
			})
		}
	}
}

func benchSubmitTracing(b *testing.B, members int, mode string) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var sopts []Option
	copts := []client.Option{client.WithLogger(testLogger())}
	if mode != "off" {
		tp := sdktrace.NewTracerProvider(sdktrace.WithSampler(sdktrace.AlwaysSample()),
			sdktrace.WithBatcher(tracetest.NewNoopExporter()))
		defer func() { _ = tp.Shutdown(context.Background()) }()
		sopts = append(sopts, WithTracerProvider(tp))
		if mode == "both" {
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
// and a message without trace context, "traced" a message
// with one, every span sampled into a BatchSpanProcessor that discards.
func BenchmarkTracerCommand(b *testing.B) {
	const parent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
	for _, mode := range []string{"off", "untraced", "traced"} {
		b.Run(mode, func(b *testing.B) {
			var tr *tracer
			if mode != "off" {
				tp := sdktrace.NewTracerProvider(sdktrace.WithSampler(sdktrace.AlwaysSample()),
					sdktrace.WithBatcher(tracetest.NewNoopExporter()))
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
