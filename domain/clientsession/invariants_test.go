package clientsession_test

import (
	"fmt"

	"github.com/zraft/zraft/domain/clientsession"
	"github.com/zraft/zraft/protocol"
)

// checker follows an engine's inputs and outputs and reports the first broken promise.
// The golden scripts and the fuzz target both run under it.
type checker struct {
	engine *clientsession.Engine
	// live: handles submitted and not yet delivered, cancelled or refused.
	live      map[clientsession.Handle]bool
	delivered map[clientsession.Handle]bool
	cancelled map[clientsession.Handle]bool
	lastSR    protocol.RequestID
	// conns: connections asked for and not yet released.
	conns    map[clientsession.ConnID]bool
	lastConn clientsession.ConnID
	lastK    protocol.RequestID
	maxID    protocol.RequestID
	maxHeld  int
	// extBefore: the extension version on the connection before the step, since a
	// step may send with extensions and then lose the connection.
	extBefore uint8
}

func newChecker(e *clientsession.Engine, maxHeld int) *checker {
	return &checker{engine: e, maxHeld: maxHeld, live: map[clientsession.Handle]bool{}, delivered: map[clientsession.Handle]bool{},
		cancelled: map[clientsession.Handle]bool{}, conns: map[clientsession.ConnID]bool{}}
}

func (c *checker) before() { c.extBefore = c.engine.Status().ExtensionVersion }

func (c *checker) input(in clientsession.Input) {
	switch in := in.(type) {
	case clientsession.Submit:
		c.live[in.Handle] = true
	case clientsession.Query:
		c.live[in.Handle] = true
	case clientsession.CancelRequest:
		if c.live[in.Handle] {
			delete(c.live, in.Handle)
			c.cancelled[in.Handle] = true
		}
	}
}

func (c *checker) outputs(outs []clientsession.Output) error {
	for _, o := range outs {
		if err := c.output(o); err != nil {
			return fmt.Errorf("%s: %w", formatOutput(o), err)
		}
	}
	st := c.engine.Status()
	if st.State == clientsession.StateClosed {
		if len(c.live) > 0 {
			return fmt.Errorf("closed with %d callers never delivered", len(c.live))
		}
		if len(c.conns) > 0 {
			return fmt.Errorf("closed with %d connections not released", len(c.conns))
		}
	}
	if len(c.conns) > 1 {
		return fmt.Errorf("%d connections at once", len(c.conns))
	}
	if st.Pending-st.Cancelled+st.Queries != len(c.live) {
		return fmt.Errorf("engine waits for %d callers, checker for %d", st.Pending-st.Cancelled+st.Queries, len(c.live))
	}
	if st.Held > 0 && st.State == clientsession.StateClosed {
		return fmt.Errorf("holds server requests while closed")
	}
	if st.Held > 0 && st.Held > c.maxHeld {
		return fmt.Errorf("holds %d server requests, more than %d", st.Held, c.maxHeld)
	}
	return nil
}

func (c *checker) output(o clientsession.Output) error {
	switch o := o.(type) {
	case clientsession.Connect:
		if o.Conn <= c.lastConn {
			return fmt.Errorf("connection ids must increase (last %d)", c.lastConn)
		}
		c.lastConn = o.Conn
		c.conns[o.Conn] = true
	case clientsession.Disconnect:
		if !c.conns[o.Conn] {
			return fmt.Errorf("disconnect of a connection not open")
		}
		delete(c.conns, o.Conn)
	case clientsession.Send:
		if !c.conns[o.Conn] {
			return fmt.Errorf("send on a connection not open")
		}
		m, err := protocol.DecodeClientMessage(o.Bytes)
		if err != nil {
			return fmt.Errorf("sent bytes do not decode: %v", err)
		}
		if m.Extensions() != nil && c.engine.Status().ExtensionVersion == 0 && c.extBefore == 0 {
			return fmt.Errorf("extension block before the server confirmed extensions")
		}
		if r, ok := m.(*protocol.ClientRequest); ok {
			if r.RequestID < 1 || r.LowestPendingRequestID > r.RequestID || r.LowestPendingRequestID < c.lastK {
				return fmt.Errorf("bad ids: id %d, K %d after K %d", r.RequestID, r.LowestPendingRequestID, c.lastK)
			}
			c.lastK = r.LowestPendingRequestID
			c.maxID = max(c.maxID, r.RequestID)
		}
	case clientsession.Deliver:
		if c.delivered[o.Handle] {
			return fmt.Errorf("handle delivered twice")
		}
		if c.cancelled[o.Handle] {
			return fmt.Errorf("cancelled handle delivered")
		}
		if !c.live[o.Handle] {
			return fmt.Errorf("handle never submitted")
		}
		delete(c.live, o.Handle)
		c.delivered[o.Handle] = true
	case clientsession.DeliverServerRequest:
		if o.ID != c.lastSR+1 {
			return fmt.Errorf("server request %d after %d", o.ID, c.lastSR)
		}
		c.lastSR = o.ID
	}
	return nil
}
