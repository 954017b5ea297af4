package export_test

import (
	"context"
	"log"
	"net/http"

	"github.com/zraft/zraft/adapters/telemetry"
	"github.com/zraft/zraft/adapters/telemetry/export"
)

// zraftd's set-up: exporters from OTEL_*, Prometheus on the admin endpoint.
func ExampleSetup() {
	ctx := context.Background()
	p, err := export.Setup(ctx, export.Config{ServiceName: "zraftd", InstanceID: "node-1", Prometheus: true})
	if err != nil {
		log.Fatal(err)
	}
	defer func() { _ = p.Shutdown(context.WithoutCancel(ctx)) }()

	metrics, err := telemetry.NewServerMetrics(p.Meter())
	if err != nil {
		log.Fatal(err)
	}
	metrics.SessionCreated(ctx)

	admin := http.NewServeMux()
	admin.Handle("/metrics", p.PrometheusHandler())
	_ = p.Tracer() // start the receive → propose → commit → reply spans with it
}
