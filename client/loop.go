package client

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/trace"

	"github.com/zraft/zraft/domain/clientsession"
	"github.com/zraft/zraft/protocol"
)

// op is what callers hand to the owner goroutine.
type op interface{ isOp() }

type opCall struct {
	call                    *Call
	ctx                     context.Context
	query                   bool
	payload                 []byte
	consistency             protocol.Consistency
	traceParent, traceState string
}

type opCancel struct {
	call *Call
	err  error
}

type opClose struct{ ctx context.Context }

type opStatus struct{ reply chan Status }

func (*opCall) isOp()  {}
func (opCancel) isOp() {}
func (opClose) isOp()  {}
func (opStatus) isOp() {}

// loop is the owner goroutine's state: the engine, the connections and the callers. Only
// run (and what it calls) touches it, except failure, which Dial reads.
type loop struct {
	c     *Client
	eng   *clientsession.Engine
	ready chan error // Dial's answer, sent once

	inbox   chan connEvent
	conns   map[clientsession.ConnID]*conn
	pumps   sync.WaitGroup
	calls   map[clientsession.Handle]*Call
	handles clientsession.Handle

	// backlog holds server requests the engine delivered (and acknowledged) that did not
	// fit the ServerRequests channel yet. While it is not empty, new server requests are
	// deferred: not fed to the engine, so not acknowledged, so redelivered by the
	// cluster later.
	backlog []backlogged

	closing   bool
	closeCtx  context.Context
	closeSent map[clientsession.ConnID]bool

	deferred, eventsDropped, ignored uint64
	failure                          atomic.Pointer[string]

	// For span attributes: the session's id once created; the member whose message
	// the engine is handling (set around that Step only); scratch for SetAttributes.
	session string
	from    protocol.MemberID
	attrs   [3]attribute.KeyValue
}

// backlogged is a server request waiting for room in the ServerRequests channel, with
// its consumer span (nil when untraced), ended when the request is handed over.
type backlogged struct {
	req  ServerRequest
	span trace.Span
}

func newLoop(c *Client, eng *clientsession.Engine, ready chan error) *loop {
	return &loop{
		c: c, eng: eng, ready: ready,
		inbox:     make(chan connEvent, 256),
		conns:     make(map[clientsession.ConnID]*conn),
		calls:     make(map[clientsession.Handle]*Call),
		closeSent: make(map[clientsession.ConnID]bool),
	}
}

func now() int64 { return time.Now().UnixMilli() }

func (l *loop) lastFailure() string {
	if p := l.failure.Load(); p != nil {
		return *p
	}
	return ""
}

func (l *loop) run() {
	defer l.shutdown()
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	l.perform(l.eng.Tick(now()))
	for !l.closing {
		l.arm(timer)
		var srvOut chan<- ServerRequest
		var head ServerRequest
		if len(l.backlog) > 0 {
			srvOut, head = l.c.srv, l.backlog[0].req
		}
		select {
		case o := <-l.c.ops:
			l.handle(o)
		case ev := <-l.inbox:
			l.connEvent(ev)
		case <-timer.C:
			l.perform(l.eng.Tick(now()))
		case srvOut <- head:
			l.handedOver()
			l.drainBacklog()
		}
	}
}

// arm sets the timer to the engine's next deadline.
func (l *loop) arm(t *time.Timer) {
	d := time.Hour
	if at, ok := l.eng.NextDeadline(); ok {
		d = max(0, time.Duration(at-now())*time.Millisecond)
	}
	t.Reset(d)
}

func (l *loop) step(in clientsession.Input) error {
	out, err := l.eng.Step(now(), in)
	l.perform(out)
	return err
}

func (l *loop) handle(o op) {
	switch o := o.(type) {
	case *opCall:
		if err := o.ctx.Err(); err != nil { // its cancel may have overtaken it
			o.call.complete(nil, err)
			return
		}
		l.handles++
		h := l.handles
		o.call.handle = h
		l.calls[h] = o.call
		var err error
		if o.query {
			err = l.query(h, o)
		} else {
			id := l.eng.NextRequestID()
			err = l.step(clientsession.Submit{Handle: h, Payload: o.payload,
				TraceParent: o.traceParent, TraceState: o.traceState})
			if l.c.opts.tracer != nil && err == nil {
				// Admitted (a refusal is delivered at once): it took that id. Only spans
				// use it.
				if _, pending := l.calls[h]; pending {
					o.call.reqID = id
				}
			}
		}
		if err != nil { // misuse of the engine: a bug here, but the caller must hear of it
			l.complete(h, nil, fmt.Errorf("client: internal error: %w", err))
		}
	case opCancel:
		if c, ok := l.calls[o.call.handle]; ok && c == o.call {
			// Forget the caller first: the engine never delivers a cancelled handle.
			delete(l.calls, o.call.handle)
			_ = l.step(clientsession.CancelRequest{Handle: o.call.handle})
			l.annotate(o.call)
			o.call.complete(nil, o.err)
		}
	case opStatus:
		o.reply <- l.status()
	case opClose:
		l.closing = true
		l.closeCtx = o.ctx
		_ = l.step(clientsession.Close{})
	}
}

func (l *loop) query(h clientsession.Handle, o *opCall) error {
	for {
		corr := correlationID()
		err := l.step(clientsession.Query{Handle: h, Payload: o.payload, CorrelationID: corr,
			Consistency: o.consistency, TraceParent: o.traceParent, TraceState: o.traceState})
		if !errors.Is(err, clientsession.ErrDuplicateCorrelationID) {
			if l.c.opts.tracer != nil && err == nil {
				if _, pending := l.calls[h]; pending { // admitted: a refusal is delivered at once
					o.call.corr = corr
				}
			}
			return err
		}
	}
}

func (l *loop) complete(h clientsession.Handle, result []byte, err error) {
	c, ok := l.calls[h]
	if !ok {
		return
	}
	delete(l.calls, h)
	l.annotate(c)
	c.complete(result, err)
}

// perform carries out the engine's outputs in order.
func (l *loop) perform(outs []clientsession.Output) {
	for _, o := range outs {
		switch o := o.(type) {
		case clientsession.Connect:
			l.connect(o)
		case clientsession.Disconnect:
			l.disconnect(o.Conn)
		case clientsession.Send:
			l.sendOn(o.Conn, o.Bytes)
		case clientsession.Deliver:
			l.complete(o.Handle, o.Result, translate(o.Err))
		case clientsession.DeliverServerRequest:
			r := ServerRequest{ID: int64(o.ID), Payload: o.Payload,
				CreatedAt: time.UnixMilli(int64(o.CreatedAt)), TraceParent: o.TraceParent, TraceState: o.TraceState}
			span := l.serverRequestSpan(o, &r)
			l.backlog = append(l.backlog, backlogged{req: r, span: span})
			l.drainBacklog()
		case clientsession.Event:
			l.event(o)
		case clientsession.Ignored:
			l.ignored++
			l.c.opts.logger.Debug("client: ignored", "what", o.What, "why", o.Why)
		}
	}
}

func (l *loop) drainBacklog() {
	for len(l.backlog) > 0 {
		select {
		case l.c.srv <- l.backlog[0].req:
			l.handedOver()
		default:
			return
		}
	}
	l.backlog = nil
}

// handedOver drops the backlog's head, which the ServerRequests channel just took, and
// ends its span: the application has it (and the engine acknowledged it).
func (l *loop) handedOver() {
	if span := l.backlog[0].span; span != nil {
		span.End()
	}
	l.backlog[0] = backlogged{}
	l.backlog = l.backlog[1:]
}

func (l *loop) event(e clientsession.Event) {
	ev := Event{Kind: EventKind(e.Kind), Member: string(e.Member), SessionID: string(e.SessionID),
		New: e.New, Reason: e.Reason, Err: translate(e.Err), At: time.Now()}
	log := l.c.opts.logger
	switch ev.Kind {
	case EventConnected:
		l.session = ev.SessionID
		log.Info("client: connected", "member", ev.Member, "session", ev.SessionID, "new", ev.New)
		l.signal(nil)
	case EventReconnecting:
		reason := ev.Member + ": " + ev.Reason
		l.failure.Store(&reason)
		log.Info("client: reconnecting", "member", ev.Member, "reason", ev.Reason)
	case EventSessionExpired:
		log.Warn("client: session expired", "session", ev.SessionID, "reason", ev.Reason)
		l.signal(ev.Err)
	case EventClosed:
		log.Info("client: closed", "session", ev.SessionID, "reason", ev.Reason)
		l.signal(ev.Err)
	}
	select {
	case l.c.events <- ev:
	default:
		l.eventsDropped++
		log.Warn("client: event dropped: the Events channel is full", "event", ev.Kind.String(), "dropped", l.eventsDropped)
	}
}

// signal answers Dial once: nil when a session exists, else why there is none.
func (l *loop) signal(err error) {
	if l.ready == nil {
		return
	}
	l.ready <- err
	l.ready = nil
}

func (l *loop) status() Status {
	st := l.eng.Status()
	s := Status{
		State: st.State.String(), Connected: st.State == clientsession.StateConnected,
		Member: string(st.Member), SessionID: string(st.SessionID), Extensions: st.ExtensionVersion,
		Pending: st.Pending - st.Cancelled, Queries: st.Queries, LastServerRequest: int64(st.LastServerRequest),
		ServerRequestsDeferred: l.deferred, EventsDropped: l.eventsDropped, Ignored: l.ignored,
	}
	for _, m := range st.Members {
		s.Members = append(s.Members, Member{ID: string(m.ID), Endpoint: m.Endpoint})
	}
	return s
}

// shutdown releases everything once the loop ends (after Close): callers still waiting
// get ErrClosed, connections close, and the channels are closed.
func (l *loop) shutdown() {
	for h := range l.calls {
		l.complete(h, nil, ErrClosed)
	}
	for id := range l.conns {
		l.disconnect(id)
	}
	l.pumps.Wait()
	if n := len(l.backlog); n > 0 {
		l.c.opts.logger.Warn("client: closed with server requests the application did not read", "count", n)
		for _, b := range l.backlog {
			endSpan(b.span, ErrClosed)
		}
	}
	l.signal(ErrClosed)
	close(l.c.srv)
	close(l.c.events)
	close(l.c.done)
}

func randomSeed() uint64 {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return binary.LittleEndian.Uint64(b[:]) | 1
}

func nonce() protocol.Nonce {
	for {
		var b [8]byte
		_, _ = rand.Read(b[:])
		if n := protocol.Nonce(binary.LittleEndian.Uint64(b[:])); n != 0 {
			return n
		}
	}
}

func correlationID() protocol.CorrelationID {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return protocol.CorrelationID(hex.EncodeToString(b[:]))
}
