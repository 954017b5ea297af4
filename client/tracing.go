package client

import (
	"context"

	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// tracerName is the instrumentation scope of the client's spans.
const tracerName = "github.com/zraft/zraft/client"

// WithTracerProvider makes the client start a span for every call ("zraft.client.submit",
// "zraft.client.query", span kind client, ended when the call completes, with the error
// as its status) and send its W3C trace context with the command or query, so that the
// cluster's spans become its children. Trace context travels only to a server that
// confirmed the extensions. It takes precedence over WithTraceContext.
func WithTracerProvider(tp trace.TracerProvider) Option {
	return func(o *options) {
		if tp != nil {
			o.tracer = tp.Tracer(tracerName)
		}
	}
}

// traceContext is fixed to W3C TraceContext: the wire has exactly its two fields.
var traceContext propagation.TraceContext

// startSpan starts the call's span (if tracing is on) and fills the trace context the
// call carries; it returns the context the call then uses.
func (c *Client) startSpan(ctx context.Context, o *opCall) (context.Context, trace.Span) {
	if c.opts.tracer == nil {
		if c.opts.trace != nil {
			o.traceParent, o.traceState = c.opts.trace(ctx)
		}
		return ctx, nil
	}
	name := "zraft.client.submit"
	if o.query {
		name = "zraft.client.query"
	}
	ctx, span := c.opts.tracer.Start(ctx, name, trace.WithSpanKind(trace.SpanKindClient))
	carrier := propagation.MapCarrier{}
	traceContext.Inject(ctx, carrier)
	o.traceParent, o.traceState = carrier.Get("traceparent"), carrier.Get("tracestate")
	return ctx, span
}

func endSpan(span trace.Span, err error) {
	if span == nil {
		return
	}
	if err != nil {
		span.RecordError(err)
		span.SetStatus(codes.Error, err.Error())
	}
	span.End()
}
