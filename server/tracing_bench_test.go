package server

import (
	"context"
	"sort"
	"strings"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/zraft/zraft/client"
	"github.com/zraft/zraft/domain/session"
)

// BenchmarkSubmitTracing measures pipelined Submit throughput on a 1-member cluster
// with tracing off; on in the member only (clients send no trace context: the member
// only looks for one); and on in client and member (every span sampled and exported to
// a discarding exporter). Issue 9's overhead targets compare these.
func BenchmarkSubmitTracing(b *testing.B) {
	for _, mode := range []string{"off", "member", "both"} {
		b.Run(mode, func(b *testing.B) {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
			defer cancel()
			var sopts []Option
			copts := []client.Option{client.WithLogger(testLogger())}
			if mode != "off" {
				tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(tracetest.NewNoopExporter()))
				defer func() { _ = tp.Shutdown(context.Background()) }()
				sopts = append(sopts, WithTracerProvider(tp))
				if mode == "both" {
					copts = append(copts, client.WithTracerProvider(tp))
				}
			}
			cl := newCluster(b, 1, nil, func() session.Application { return &counterApp{} }, sopts...)
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
			b.StopTimer()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "cmd/s")
		})
	}
}
