package server

import (
	"context"
	"log/slog"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/zraft/zraft/adapters/telemetry"
	"github.com/zraft/zraft/domain/gateway"
	"github.com/zraft/zraft/domain/session"
	"github.com/zraft/zraft/protocol"
)

// maxOpenSpans bounds the server spans waiting for their reply: past it a request is
// served without a span (logged), so that no client can grow the map.
const maxOpenSpans = 4096

// maxSpanAge ends a span whose reply never came (e.g. its session expired while its
// connection stayed open): nothing else would.
const maxSpanAge = 2 * time.Minute

// spanKey names a traced request: a command by its request id, a query by its
// correlation id (corr non-empty).
type spanKey struct {
	session string
	id      uint64
	corr    protocol.CorrelationID
}

type openSpan struct {
	span     trace.Span
	rid      gateway.RoutingID
	started  time.Time
	proposed bool // the "proposed" event is recorded
}

// tracer keeps the loop's spans. It is used by the loop goroutine only; a nil *tracer
// (tracing off) does nothing and decodes nothing.
//
// A command's steps after receipt are events on its one server span ("proposed",
// "applied"), not child spans: a span costs the SDK an allocation, an attribute
// de-duplication map and a trip through the span processor, an event a timestamp and a
// slice element (docs/operations-telemetry.md, "Traces on the member", has the figures).
type tracer struct {
	t         trace.Tracer
	member    attribute.KeyValue
	log       *slog.Logger
	open      map[spanKey]openSpan
	extConns  map[gateway.RoutingID]bool // connections whose session negotiated extensions
	nextSweep time.Time
	// Built once: passing an existing slice to the Tracer and Span interfaces allocates
	// nothing, building one per call does.
	serverOpts   []trace.SpanStartOption
	producerOpts []trace.SpanStartOption
	attrs        [3]attribute.KeyValue // scratch for a span's attributes (copied by the SDK)
	// parent holds the span context of the message being received, and parentCtx
	// (built once) holds parent: a receipt allocates no context and boxes no span.
	parent    *remoteParent
	parentCtx context.Context
	// lastTick is the latest sweep's time: a span's start for the age check, read
	// instead of the clock per receipt (zero before the first tick).
	lastTick time.Time
}

// remoteParent is the parent span the tracer hands the SDK's Start: a non-recording
// span whose span context is the received message's, set just before Start and cleared
// after it. The SDK reads the parent during Start and keeps a copy of its span context,
// never the span, so one value serves every receipt (the loop goroutine's only).
type remoteParent struct {
	noop.Span
	sc trace.SpanContext
}

// SpanContext returns the received message's span context.
func (p *remoteParent) SpanContext() trace.SpanContext { return p.sc }

func newTracer(tp trace.TracerProvider, member string, log *slog.Logger) *tracer {
	if tp == nil {
		return nil
	}
	parent := &remoteParent{}
	return &tracer{
		parent:       parent,
		parentCtx:    trace.ContextWithSpan(context.Background(), parent),
		t:            tp.Tracer(telemetry.ScopeName),
		member:       telemetry.AttrMemberID.String(member),
		log:          log,
		open:         map[spanKey]openSpan{},
		extConns:     map[gateway.RoutingID]bool{},
		serverOpts:   []trace.SpanStartOption{trace.WithSpanKind(trace.SpanKindServer)},
		producerOpts: []trace.SpanStartOption{trace.WithSpanKind(trace.SpanKindProducer)},
	}
}

// setAttrs sets a server span's attributes: the session, the request (id), this member.
func (t *tracer) setAttrs(span trace.Span, sess string, id attribute.KeyValue) {
	t.attrs = [3]attribute.KeyValue{telemetry.AttrSessionID.String(sess), id, t.member}
	span.SetAttributes(t.attrs[:]...)
}

// received starts the server span of a ClientRequest or Query that carries a trace
// context. m is the message the gateway decoded (gateway.LastMessage), sess the session
// its connection owned: the tracer decodes nothing itself.
func (t *tracer) received(rid gateway.RoutingID, sess string, m protocol.ClientMessage) {
	if t == nil || sess == "" || m == nil {
		return
	}
	var (
		key  spanKey
		ext  *protocol.Extensions
		name string
		id   attribute.KeyValue
	)
	switch m := m.(type) {
	case *protocol.ClientRequest:
		key, ext, name = spanKey{session: sess, id: uint64(m.RequestID)}, m.Ext, telemetry.SpanServerCommand
		id = telemetry.AttrRequestID.Int64(int64(m.RequestID))
	case *protocol.Query:
		if m.CorrelationID == "" {
			return
		}
		key, ext, name = spanKey{session: sess, corr: m.CorrelationID}, m.Ext, telemetry.SpanServerQuery
		id = telemetry.AttrCorrelationID.String(string(m.CorrelationID))
	default:
		return
	}
	if ext == nil || ext.TraceParent == "" {
		return
	}
	if _, ok := t.open[key]; ok {
		return // a retransmission: the first receipt's span covers it
	}
	if len(t.open) >= maxOpenSpans {
		t.log.Debug("server: too many open spans, request not traced", "session", sess, "request", key.id, "query", key.corr)
		return
	}
	parent := telemetry.RemoteSpanContext(ext)
	if !parent.IsValid() {
		return // the member never starts a trace for a client
	}
	t.parent.sc = parent
	_, span := t.t.Start(t.parentCtx, name, t.serverOpts...)
	t.parent.sc = trace.SpanContext{}
	if !span.IsRecording() {
		return // not sampled (an unsampled client trace, a parent-based sampler): nothing to follow
	}
	t.setAttrs(span, sess, id)
	started := t.lastTick
	if started.IsZero() {
		started = time.Now()
	}
	t.open[key] = openSpan{span: span, rid: rid, started: started}
}

// proposed records the "proposed" event on the span of each traced command in cmd, once
// per span. (A failed proposal ends the span: the client's retry gets a span of its own.)
func (t *tracer) proposed(cmd session.Command) {
	if t == nil || len(t.open) == 0 {
		return
	}
	forEachRequest(cmd, func(r session.ClientRequest) {
		k := spanKey{session: r.Session, id: r.RequestID}
		if o, ok := t.open[k]; ok && !o.proposed {
			o.span.AddEvent(telemetry.EventProposed)
			o.proposed = true
			t.open[k] = o
		}
	})
}

// applied records the "applied" event on the span of each traced command in cmd: its
// entry committed and the state machine applied it (the member learns both at once).
func (t *tracer) applied(cmd session.Command) {
	if t == nil || len(t.open) == 0 {
		return
	}
	forEachRequest(cmd, func(r session.ClientRequest) {
		if o, ok := t.open[spanKey{session: r.Session, id: r.RequestID}]; ok {
			o.span.AddEvent(telemetry.EventApplied)
		}
	})
}

// proposalFailed ends the spans of the commands in cmd with an error: the client will
// retry, and that retry gets a span of its own.
func (t *tracer) proposalFailed(cmd session.Command) {
	if t == nil || len(t.open) == 0 {
		return
	}
	forEachRequest(cmd, func(r session.ClientRequest) {
		t.end(spanKey{session: r.Session, id: r.RequestID}, "proposal failed")
	})
}

// sent ends the span a reply answers, learns which connections negotiated extensions,
// and returns m with a ServerRequest's trace context injected for such connections.
func (t *tracer) sent(rid gateway.RoutingID, sess string, m protocol.ServerMessage) protocol.ServerMessage {
	if t == nil {
		return m
	}
	switch msg := m.(type) {
	case *protocol.SessionCreated:
		t.extConns[rid] = msg.Ext != nil && msg.Ext.Version != 0
	case *protocol.SessionContinued:
		t.extConns[rid] = msg.Ext != nil && msg.Ext.Version != 0
	case *protocol.ClientResponse:
		t.end(spanKey{session: sess, id: uint64(msg.RequestID)}, "")
	case *protocol.RequestError:
		t.end(spanKey{session: sess, id: uint64(msg.RequestID)}, "request error "+msg.Reason.String())
	case *protocol.QueryResponse:
		t.end(spanKey{session: sess, corr: msg.CorrelationID}, "")
	case *protocol.ServerRequest:
		if !t.extConns[rid] {
			return m
		}
		_, span := t.t.Start(context.Background(), telemetry.SpanServerRequest, t.producerOpts...)
		t.setAttrs(span, sess, telemetry.AttrRequestID.Int64(int64(msg.RequestID)))
		defer span.End()
		// A copy: the gateway may keep msg for redelivery.
		cp := *msg
		if cp.Ext != nil {
			e := *cp.Ext
			cp.Ext = &e
		}
		cp.Ext = telemetry.WithTraceContext(trace.ContextWithSpan(context.Background(), span), cp.Ext)
		return &cp
	}
	return m
}

// connClosed ends the spans of requests received on rid: their reply cannot come there.
func (t *tracer) connClosed(rid gateway.RoutingID) {
	if t == nil {
		return
	}
	delete(t.extConns, rid)
	for k, o := range t.open {
		if o.rid == rid {
			t.end(k, "connection closed")
		}
	}
}

// endAll ends every open span, e.g. when this member loses leadership or stops.
func (t *tracer) endAll(why string) {
	if t == nil {
		return
	}
	for k := range t.open {
		t.end(k, why)
	}
}

// sweep ends spans older than maxSpanAge, checking once a second. now also becomes
// the start time recorded for the spans received until the next tick (the age check
// needs no finer clock).
func (t *tracer) sweep(now time.Time) {
	if t == nil {
		return
	}
	t.lastTick = now
	if now.Before(t.nextSweep) {
		return
	}
	t.nextSweep = now.Add(time.Second)
	for k, o := range t.open {
		if now.Sub(o.started) > maxSpanAge {
			t.end(k, "no reply")
		}
	}
}

// end ends key's spans; a non-empty why is the error status.
func (t *tracer) end(key spanKey, why string) {
	if len(t.open) == 0 {
		return // nothing traced: no need to hash the key
	}
	o, ok := t.open[key]
	if !ok {
		return
	}
	delete(t.open, key)
	if why != "" {
		o.span.SetStatus(codes.Error, why)
	}
	o.span.End()
}

func forEachRequest(cmd session.Command, f func(session.ClientRequest)) {
	switch c := cmd.(type) {
	case session.ClientRequest:
		f(c)
	case session.Batch:
		for _, sub := range c.Commands {
			forEachRequest(sub, f)
		}
	}
}
