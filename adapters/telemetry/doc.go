// Package telemetry is zraft's OpenTelemetry adapter on the API side: what the client and
// the server call to trace and measure themselves, without choosing an SDK or exporter.
//
//   - Inject and Extract move W3C trace context (traceparent, tracestate) through the
//     protocol's extension block, so one trace follows a command from the client's span
//     into the cluster member's spans and back.
//   - ServerMetrics and ClientMetrics hold every zraft instrument, created once from a
//     metric.Meter and listed by ServerInstruments and ClientInstruments. With a no-op
//     meter (telemetry off) recording costs a few nanoseconds and allocates nothing.
//   - NewLogHandler wraps a slog.Handler so that records logged with a context that
//     carries a span get trace_id and span_id attributes.
//
// This package depends only on the OpenTelemetry API and on the protocol module. The SDK,
// the exporters and the set-up from OTEL_* environment variables are in the sub-package
// export, which only processes that export telemetry (zraftd, applications that want it)
// import; see docs/operations-telemetry.md.
package telemetry
