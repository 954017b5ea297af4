package otlphttp

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/resource"

	"github.com/zraft/zraft/adapters/telemetry/internal/testutil"
)

const benchBatch = 512

// benchResource is zraft's resource, roughly.
var benchResource = resource.NewWithAttributes("https://opentelemetry.io/schemas/1.26.0",
	attribute.String("service.name", "zraft"), attribute.String("service.instance.id", "node-1"),
	attribute.String("telemetry.sdk.language", "go"), attribute.String("telemetry.sdk.name", "opentelemetry"),
	attribute.String("telemetry.sdk.version", "1.47.0"))

// discardServer is a collector that reads and discards bodies.
func discardServer(b *testing.B) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
	}))
	b.Cleanup(srv.Close)
	return srv
}

// perSpan runs export once per iteration and reports wall and process CPU time and
// allocations per span (the collector's work, in this process, is included in both
// variants).
func perSpan(b *testing.B, export func() error) {
	b.ReportAllocs()
	if err := export(); err != nil { // warm up pools and the connection
		b.Fatal(err)
	}
	var ms0, ms1 runtime.MemStats
	runtime.ReadMemStats(&ms0)
	cpu0, t0 := testutil.ProcessCPU(), time.Now()
	n := 0
	for b.Loop() {
		if err := export(); err != nil {
			b.Fatal(err)
		}
		n++
	}
	cpu, wall := testutil.ProcessCPU()-cpu0, time.Since(t0)
	runtime.ReadMemStats(&ms1)
	spans := float64(n * benchBatch)
	b.ReportMetric(float64(wall.Nanoseconds())/spans, "ns/span")
	b.ReportMetric(float64(cpu.Nanoseconds())/spans, "cpu-ns/span")
	b.ReportMetric(float64(ms1.Mallocs-ms0.Mallocs)/spans, "allocs/span")
	b.ReportMetric(float64(ms1.TotalAlloc-ms0.TotalAlloc)/spans, "B/span")
}

// BenchmarkExport: exporting batches of 512 zraft server spans (3 attributes, 2
// events, remote parent) to a local collector that discards the body, with the SDK's
// otlptracehttp exporter (sdk), with this one from Span values (fast), and with this
// one as an sdktrace.SpanExporter (fast_ExportSpans).
func BenchmarkExport(b *testing.B) {
	ctx := context.Background()
	ros := zraftSpans(benchBatch, benchResource)
	spans := toSpans(ros)
	b.Run("sdk", func(b *testing.B) {
		srv := discardServer(b)
		exp, err := otlptracehttp.New(ctx, otlptracehttp.WithEndpointURL(srv.URL+"/v1/traces"))
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { _ = exp.Shutdown(ctx) })
		perSpan(b, func() error { return exp.ExportSpans(ctx, ros) })
	})
	b.Run("fast", func(b *testing.B) {
		srv := discardServer(b)
		exp, err := New(ctx, WithEndpointURL(srv.URL+"/v1/traces"))
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { _ = exp.Shutdown(ctx) })
		perSpan(b, func() error { return exp.Export(ctx, benchResource, spans) })
	})
	b.Run("fast_ExportSpans", func(b *testing.B) {
		srv := discardServer(b)
		exp, err := New(ctx, WithEndpointURL(srv.URL+"/v1/traces"))
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { _ = exp.Shutdown(ctx) })
		perSpan(b, func() error { return exp.ExportSpans(ctx, ros) })
	})
}

// BenchmarkAppendRequest: encoding a batch of 512 zraft server spans into a reused
// buffer.
func BenchmarkAppendRequest(b *testing.B) {
	spans := toSpans(zraftSpans(benchBatch, benchResource))
	buf := AppendRequest(nil, benchResource, spans)
	b.SetBytes(int64(len(buf)))
	perSpan(b, func() error {
		buf = AppendRequest(buf[:0], benchResource, spans)
		return nil
	})
}
