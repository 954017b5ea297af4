package otlphttp_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/instrumentation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/zraft/zraft/adapters/telemetry/otlphttp"
)

// A span recorder hands ended spans to Export as plain values.
func ExampleExporter_Export() {
	collector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		fmt.Println(r.Header.Get("Content-Type"), len(body) > 0)
	}))
	defer collector.Close()

	ctx := context.Background()
	exp, err := otlphttp.New(ctx, otlphttp.WithEndpointURL(collector.URL+"/v1/traces"))
	if err != nil {
		panic(err)
	}
	defer func() { _ = exp.Shutdown(ctx) }()

	scope := &instrumentation.Scope{Name: "github.com/zraft/zraft/server"}
	start := time.Now()
	span := otlphttp.Span{
		Name: "zraft.Submit",
		SpanContext: trace.NewSpanContext(trace.SpanContextConfig{
			TraceID: trace.TraceID{1}, SpanID: trace.SpanID{2}, TraceFlags: trace.FlagsSampled,
		}),
		Kind:       trace.SpanKindServer,
		Start:      start,
		End:        start.Add(time.Millisecond),
		Attributes: []attribute.KeyValue{attribute.Int64("zraft.request_id", 7)},
		Events:     []sdktrace.Event{{Name: "applied", Time: start.Add(time.Millisecond)}},
		Scope:      scope,
	}
	res := resource.NewSchemaless(attribute.String("service.name", "zraft"))
	if err := exp.Export(ctx, res, []otlphttp.Span{span}); err != nil {
		panic(err)
	}
	// Output: application/x-protobuf true
}
