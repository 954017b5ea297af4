// Package otlphttp is an OTLP/HTTP (http/protobuf) trace exporter that encodes the
// OTLP protobuf by hand, straight from plain Span values, into buffers it reuses:
// no protobuf structs are built and encoding a span does not allocate.
//
// Export takes Span values (from a span recorder other than the SDK's);
// ExportSpans and Shutdown make the Exporter an sdktrace.SpanExporter too.
// AppendRequest is the encoding alone.
//
// New reads the standard OTEL_EXPORTER_OTLP_* variables as the SDK's otlptracehttp
// exporter does, and the request it posts for a batch is, field for field, what
// that exporter posts (tested by decoding both with the generated OTLP types), with
// two deliberate differences: invalid UTF-8 in strings is replaced by U+FFFD instead
// of failing the batch, and links carry their trace_state. Other differences from
// the SDK's exporter: invalid configuration is an error (the SDK logs and ignores
// it); the timeout bounds a whole Export call, retries included (the SDK's bounds
// each attempt of its own client); a status message is written only with the Error
// code (the SDK's span records it only then too); no self-observability metrics,
// proxy option, http/json encoding, or OTEL_EXPORTER_OTLP_INSECURE (an http://
// endpoint is insecure, an https:// one is not).
package otlphttp
