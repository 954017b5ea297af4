package otlphttp

import (
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/instrumentation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
)

// Span is one ended span as the encoder reads it: what sdktrace.ReadOnlySpan
// reports, as plain fields, so that a span recorder other than the SDK's can hand its
// spans over without building a ReadOnlySpan (which only the SDK can make).
type Span struct {
	Name              string
	SpanContext       trace.SpanContext
	Parent            trace.SpanContext
	Kind              trace.SpanKind
	Start, End        time.Time
	Attributes        []attribute.KeyValue
	Events            []sdktrace.Event
	Links             []sdktrace.Link
	Status            sdktrace.Status
	DroppedAttributes int
	DroppedEvents     int
	DroppedLinks      int
	// Scope is the instrumentation scope of the tracer that started the span. Spans
	// of one scope are grouped into one ScopeSpans message; nil is the empty scope.
	Scope *instrumentation.Scope
}
