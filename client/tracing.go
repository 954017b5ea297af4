package client

import (
	"context"

	"go.opentelemetry.io/otel/codes"
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

// clientSpan is the start option of every call's span, built once: a slice built at
// each Start call would be allocated each time.
var clientSpan = []trace.SpanStartOption{trace.WithSpanKind(trace.SpanKindClient)}

// startSpan starts the call's span (if tracing is on) and fills the trace context the
// call carries; it returns the context the call then uses. Without a tracer provider
// it allocates nothing.
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
	ctx, span := c.opts.tracer.Start(ctx, name, clientSpan...)
	sc := span.SpanContext()
	o.traceParent = traceParent(sc)
	if o.traceParent != "" {
		o.traceState = sc.TraceState().String()
	}
	return ctx, span
}

// traceParent formats sc as a W3C traceparent (version 00, lower-case hex, the sampled
// and random flags), as propagation.TraceContext does, without its carrier and map; ""
// when sc is not valid (a test holds the two together).
func traceParent(sc trace.SpanContext) string {
	if !sc.IsValid() {
		return ""
	}
	const hexDigits = "0123456789abcdef"
	var buf [55]byte
	b := append(buf[:0], '0', '0', '-')
	tid, sid := sc.TraceID(), sc.SpanID()
	for _, x := range tid {
		b = append(b, hexDigits[x>>4], hexDigits[x&0xf])
	}
	b = append(b, '-')
	for _, x := range sid {
		b = append(b, hexDigits[x>>4], hexDigits[x&0xf])
	}
	f := byte(sc.TraceFlags() & (trace.FlagsSampled | trace.FlagsRandom))
	b = append(b, '-', hexDigits[f>>4], hexDigits[f&0xf])
	return string(b)
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
