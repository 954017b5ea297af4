package clientsession

import (
	"bytes"
	"cmp"
	"fmt"
	"math"
	"slices"

	"github.com/zraft/zraft/protocol"
)

// request is a pending command. Its id never changes: retries reuse it.
type request struct {
	id        protocol.RequestID
	handle    Handle
	payload   []byte
	createdAt protocol.Timestamp
	trace     [2]string
	sent
	cancelled bool
}

type query struct {
	corr        protocol.CorrelationID
	handle      Handle
	payload     []byte
	createdAt   protocol.Timestamp
	consistency protocol.Consistency
	trace       [2]string
	sent
}

// calls holds what callers wait for. Commands are kept sorted by id (ids are assigned in
// increasing order, so appending keeps the order) and K is the first one's id. Queries
// keep their arrival order, so re-sends are deterministic.
type calls struct {
	nextID  protocol.RequestID
	reqs    []*request
	queries []*query
	// handles maps a live (not cancelled, not delivered) handle to its call.
	handles map[Handle]bool
	corrs   map[protocol.CorrelationID]bool
	// order holds the calls sent on the live connection, oldest send first.
	order sendOrder
}

func (c *calls) init() {
	c.nextID = 1
	c.handles = make(map[Handle]bool)
	c.corrs = make(map[protocol.CorrelationID]bool)
	c.order.init()
}

func (c *calls) has(h Handle) bool { return c.handles[h] }

func (c *calls) hasCorrelation(id protocol.CorrelationID) bool { return c.corrs[id] }

// lowestPending is K: the smallest id still pending, or the next id when none is.
func (c *calls) lowestPending() protocol.RequestID {
	if len(c.reqs) > 0 {
		return c.reqs[0].id
	}
	return c.nextID
}

func (c *calls) pending() int { return len(c.reqs) + len(c.queries) }

func (c *calls) find(id protocol.RequestID) (int, bool) {
	return slices.BinarySearchFunc(c.reqs, id, func(r *request, id protocol.RequestID) int { return cmp.Compare(r.id, id) })
}

func invalid(h Handle, err error) Deliver {
	return Deliver{Handle: h, Err: fmt.Errorf("%w: %w", ErrInvalidRequest, err)}
}

func (e *Engine) admit(h Handle) bool {
	if e.state == StateClosed {
		e.emit(Deliver{Handle: h, Err: e.terminal})
		return false
	}
	if e.calls.pending() >= e.cfg.MaxPending {
		e.emit(Deliver{Handle: h, Err: ErrTooManyPending})
		return false
	}
	return true
}

func (e *Engine) submit(in Submit) {
	if !e.admit(in.Handle) {
		return
	}
	c := &e.calls
	r := &request{id: c.nextID, handle: in.Handle, payload: bytes.Clone(in.Payload),
		createdAt: protocol.Timestamp(e.now), trace: [2]string{in.TraceParent, in.TraceState}}
	if r.payload == nil {
		r.payload = []byte{}
	}
	// Encode once with every optional field, so that any later send of it succeeds.
	if _, err := protocol.AppendClientMessage(nil, r.message(math.MaxInt64, 1)); err != nil {
		e.emit(invalid(in.Handle, err))
		return
	}
	c.nextID++
	c.reqs = append(c.reqs, r)
	c.handles[in.Handle] = true
	if e.link.phase == phaseUp {
		e.sendRequest(r, c.lowestPending())
	}
}

func (e *Engine) query(in Query) {
	if !e.admit(in.Handle) {
		return
	}
	c := &e.calls
	q := &query{corr: in.CorrelationID, handle: in.Handle, payload: bytes.Clone(in.Payload),
		createdAt: protocol.Timestamp(e.now), consistency: in.Consistency,
		trace: [2]string{in.TraceParent, in.TraceState}}
	if q.payload == nil {
		q.payload = []byte{}
	}
	if _, err := protocol.AppendClientMessage(nil, q.message(1)); err != nil {
		e.emit(invalid(in.Handle, err))
		return
	}
	c.queries = append(c.queries, q)
	c.handles[in.Handle] = true
	c.corrs[in.CorrelationID] = true
	if e.link.phase == phaseUp {
		e.sendQuery(q)
	}
}

func (r *request) message(k protocol.RequestID, ext uint8) *protocol.ClientRequest {
	m := &protocol.ClientRequest{RequestID: r.id, LowestPendingRequestID: min(k, r.id),
		Payload: r.payload, CreatedAt: r.createdAt}
	if ext > 0 && (r.trace[0] != "" || r.trace[1] != "") {
		m.Ext = &protocol.Extensions{TraceParent: r.trace[0], TraceState: r.trace[1]}
	}
	return m
}

func (q *query) message(ext uint8) *protocol.Query {
	m := &protocol.Query{CorrelationID: q.corr, Payload: q.payload, CreatedAt: q.createdAt}
	if ext > 0 && (q.trace[0] != "" || q.trace[1] != "" || q.consistency != 0) {
		m.Ext = &protocol.Extensions{TraceParent: q.trace[0], TraceState: q.trace[1], Consistency: q.consistency}
	}
	return m
}

func (e *Engine) sendRequest(r *request, k protocol.RequestID) {
	e.send(r.message(k, e.link.ext))
	e.calls.order.touch(&r.sent, e.now)
}

func (e *Engine) sendQuery(q *query) {
	e.send(q.message(e.link.ext))
	e.calls.order.touch(&q.sent, e.now)
}

// cancel forgets the caller of h (see CancelRequest for why a command stays pending).
func (e *Engine) cancel(h Handle) {
	c := &e.calls
	if !c.handles[h] {
		return // already delivered or never known: the race is normal
	}
	delete(c.handles, h)
	for _, r := range c.reqs {
		if r.handle == h && !r.cancelled {
			r.cancelled = true
			return
		}
	}
	for i, q := range c.queries {
		if q.handle == h {
			delete(c.corrs, q.corr)
			c.order.remove(&q.sent)
			c.queries = slices.Delete(c.queries, i, i+1)
			return
		}
	}
}

// complete removes the command at index i and delivers d to its caller, unless the
// caller cancelled.
func (c *calls) complete(e *Engine, i int, d Deliver) {
	r := c.reqs[i]
	c.order.remove(&r.sent)
	c.reqs = slices.Delete(c.reqs, i, i+1)
	if r.cancelled {
		e.ignore(fmt.Sprintf("answer to request %d", r.id), "caller cancelled")
		return
	}
	delete(c.handles, r.handle)
	d.Handle = r.handle
	e.emit(d)
}

func (c *calls) response(e *Engine, m *protocol.ClientResponse) {
	i, ok := c.find(m.RequestID)
	if !ok {
		e.ignore(fmt.Sprintf("ClientResponse %d", m.RequestID), "not pending (duplicate or late)")
		return
	}
	c.complete(e, i, Deliver{Result: bytes.Clone(m.Result)})
}

func (c *calls) requestError(e *Engine, m *protocol.RequestError) {
	i, ok := c.find(m.RequestID)
	if !ok {
		e.ignore(fmt.Sprintf("RequestError %d", m.RequestID), "not pending (duplicate or late)")
		return
	}
	var err error
	switch m.Reason {
	case protocol.ErrorResponseEvicted:
		err = ErrResponseEvicted
	case protocol.ErrorPayloadTooLarge:
		err = ErrPayloadTooLarge
	case protocol.ErrorOverloaded:
		// Not applied; the same request goes again after ResendInterval.
		c.order.touch(&c.reqs[i].sent, e.now)
		e.ignore(fmt.Sprintf("RequestError %d", m.RequestID), "server overloaded; will resend")
		return
	default:
		err = fmt.Errorf("%w: %s", ErrRequestFailed, m.Reason)
	}
	c.complete(e, i, Deliver{Err: err})
}

func (c *calls) queryResponse(e *Engine, m *protocol.QueryResponse) {
	i := slices.IndexFunc(c.queries, func(q *query) bool { return q.corr == m.CorrelationID })
	if i < 0 {
		e.ignore(fmt.Sprintf("QueryResponse %q", m.CorrelationID), "not pending (duplicate, late or cancelled)")
		return
	}
	q := c.queries[i]
	c.queries = slices.Delete(c.queries, i, i+1)
	c.order.remove(&q.sent)
	delete(c.corrs, q.corr)
	delete(c.handles, q.handle)
	e.emit(Deliver{Handle: q.handle, Result: bytes.Clone(m.Result)})
}

// resendAll sends every pending call on a freshly confirmed connection.
func (c *calls) resendAll(e *Engine) {
	k := c.lowestPending()
	for _, r := range c.reqs {
		e.sendRequest(r, k)
	}
	for _, q := range c.queries {
		e.sendQuery(q)
	}
}

// resendDue re-sends the calls unanswered for ResendInterval on the live connection.
func (c *calls) resendDue(e *Engine) {
	every := e.cfg.ResendInterval
	if t, ok := c.nextResend(every); !ok || e.now < t {
		return // nothing due: the common case costs no scan
	}
	k := c.lowestPending()
	for _, r := range c.reqs {
		if e.now-r.lastSent >= every {
			e.sendRequest(r, k)
		}
	}
	for _, q := range c.queries {
		if e.now-q.lastSent >= every {
			e.sendQuery(q)
		}
	}
}

// nextResend is when the call sent longest ago is due again.
func (c *calls) nextResend(every int64) (int64, bool) {
	if every < 0 {
		return 0, false
	}
	n, ok := c.order.oldest()
	if !ok {
		return 0, false
	}
	return n.lastSent + every, true
}

// failAll delivers err to every caller still waiting, commands in id order first.
func (c *calls) failAll(e *Engine, err error) {
	for _, r := range c.reqs {
		if !r.cancelled {
			e.emit(Deliver{Handle: r.handle, Err: err})
		}
	}
	for _, q := range c.queries {
		e.emit(Deliver{Handle: q.handle, Err: err})
	}
	c.reqs, c.queries = nil, nil
	c.order.init()
	clear(c.handles)
	clear(c.corrs)
}
