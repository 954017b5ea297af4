// Package export sets up OpenTelemetry's SDK and exporters for zraft from a Config and
// the standard OTEL_* environment variables: OTLP over gRPC or HTTP, the console
// (stdout) exporter for debugging, and the Prometheus exporter behind an http.Handler for
// zraftd's admin /metrics. Telemetry is off unless something turns it on.
//
// It is a separate package from telemetry so that a program that only instruments itself
// (the zraft client library) compiles no SDK, gRPC or Prometheus code; see
// docs/operations-telemetry.md for the variables and the metrics.
package export
