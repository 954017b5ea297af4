package client

import (
	"context"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"

	"github.com/zraft/zraft/domain/clientsession"
)

// tracerName is the instrumentation scope of the client's spans.
const tracerName = "github.com/zraft/zraft/client"

// Span names and attribute keys of the client's spans. They are adapters/telemetry's
// (SpanClientSubmit, AttrSessionID, …), written out because importing that module would
// bring its exporters into the client's module graph; the server's tests, which see
// both, check that they agree.
const (
	spanSubmit        = "zraft.client.submit"
	spanQuery         = "zraft.client.query"
	spanServerRequest = "zraft.client.server_request"

	attrSessionID     = attribute.Key("zraft.session.id")
	attrRequestID     = attribute.Key("zraft.request.id")
	attrCorrelationID = attribute.Key("zraft.correlation.id")
	attrMemberID      = attribute.Key("zraft.member.id")
)

// WithTracerProvider makes the client start a span for every call ("zraft.client.submit",
// "zraft.client.query", span kind client, ended when the call completes, with the error
// as its status) and send its W3C trace context with the command or query, so that the
// cluster's spans become its children. When the call completes, its span gets the
// session (zraft.session.id), the command's request id (zraft.request.id) or the
// query's correlation id (zraft.correlation.id), and the member that answered
// (zraft.member.id), as far as they are known. Trace context travels only to a server
// that confirmed the extensions. It takes precedence over WithTraceContext.
//
// A server request that arrives with a valid trace context gets a
// "zraft.client.server_request" span (kind consumer, child of the member's span, with
// the session, the request's id and the member), started when the client takes the
// request and ended when it puts it into the ServerRequests channel;
// ServerRequest.TraceParent and TraceState are then that span's, so the application's
// own span becomes its child. A redelivery of a request already taken starts no span.
func WithTracerProvider(tp trace.TracerProvider) Option {
	return func(o *options) {
		if tp != nil {
			o.tracer = tp.Tracer(tracerName)
		}
	}
}

// clientSpan and consumerSpan are the start options of the spans, built once: a slice
// built at each Start call would be allocated each time.
var (
	clientSpan   = []trace.SpanStartOption{trace.WithSpanKind(trace.SpanKindClient)}
	consumerSpan = []trace.SpanStartOption{trace.WithSpanKind(trace.SpanKindConsumer)}
)

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
	name := spanSubmit
	if o.query {
		name = spanQuery
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

// annotate sets a call's span attributes once, as it completes, in the owner goroutine:
// the session, the command's request id or the query's correlation id (once assigned),
// and the member whose message completed it (none when the call ended locally: closed,
// cancelled, refused before sending). One SetAttributes call, from the loop's scratch
// array, so it allocates nothing of its own.
func (l *loop) annotate(c *Call) {
	if c.span == nil {
		return
	}
	a := l.attrs[:0]
	if l.session != "" {
		a = append(a, attrSessionID.String(l.session))
	}
	switch {
	case c.query && c.corr != "":
		a = append(a, attrCorrelationID.String(string(c.corr)))
	case !c.query && c.reqID != 0:
		a = append(a, attrRequestID.Int64(int64(c.reqID)))
	}
	if l.from != "" {
		a = append(a, attrMemberID.String(string(l.from)))
	}
	if len(a) > 0 {
		c.span.SetAttributes(a...)
	}
}

// traceFields carries a server request's trace context to the W3C propagator, which
// parses it (server requests are far rarer than calls: no need for a parser of our own).
type traceFields struct{ parent, state string }

func (f traceFields) Get(key string) string {
	switch key {
	case "traceparent":
		return f.parent
	case "tracestate":
		return f.state
	}
	return ""
}

func (traceFields) Set(string, string) {}

func (traceFields) Keys() []string { return []string{"traceparent", "tracestate"} }

// serverRequestSpan starts the consumer span of a server request the engine delivered
// (each id once per session: redeliveries of a request already taken never get here),
// when a tracer is set and the request carries a valid trace context, and gives r that
// span's trace context. It returns nil otherwise.
func (l *loop) serverRequestSpan(d clientsession.DeliverServerRequest, r *ServerRequest) trace.Span {
	t := l.c.opts.tracer
	if t == nil || d.TraceParent == "" {
		return nil
	}
	ctx := propagation.TraceContext{}.Extract(context.Background(), traceFields{d.TraceParent, d.TraceState})
	if !trace.SpanContextFromContext(ctx).IsValid() {
		return nil
	}
	_, span := t.Start(ctx, spanServerRequest, consumerSpan...)
	a := append(l.attrs[:0], attrSessionID.String(l.session), attrRequestID.Int64(int64(d.ID)))
	if l.from != "" {
		a = append(a, attrMemberID.String(string(l.from)))
	}
	span.SetAttributes(a...)
	if sc := span.SpanContext(); sc.IsValid() {
		r.TraceParent, r.TraceState = traceParent(sc), sc.TraceState().String()
	}
	return span
}
