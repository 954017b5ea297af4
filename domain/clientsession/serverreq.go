package clientsession

import (
	"bytes"
	"cmp"
	"fmt"
	"slices"

	"github.com/zraft/zraft/protocol"
)

// serverRequests delivers the cluster's requests to the application in order, each
// once: last is the highest id delivered (and acknowledged), held the ones that came
// ahead of a gap, sorted by id.
type serverRequests struct {
	last protocol.RequestID
	held []DeliverServerRequest
}

func (s *serverRequests) reset() { s.held = nil }

func (s *serverRequests) receive(e *Engine, m *protocol.ServerRequest) {
	what := fmt.Sprintf("ServerRequest %d", m.RequestID)
	switch {
	case m.RequestID < 1:
		e.ignore(what, "invalid id")
	case m.RequestID <= s.last:
		// Already delivered: our ack was lost or is late. Acks are cumulative.
		e.send(&protocol.ServerRequestAck{RequestID: s.last})
	case m.RequestID == s.last+1:
		s.deliver(e, toDelivery(m))
		for len(s.held) > 0 && s.held[0].ID <= s.last+1 {
			d := s.held[0]
			s.held = slices.Delete(s.held, 0, 1)
			if d.ID == s.last+1 {
				s.deliver(e, d)
			}
		}
		e.send(&protocol.ServerRequestAck{RequestID: s.last})
	default:
		i, found := slices.BinarySearchFunc(s.held, m.RequestID, func(d DeliverServerRequest, id protocol.RequestID) int {
			return cmp.Compare(d.ID, id)
		})
		switch {
		case found:
			e.ignore(what, "already held back")
		case len(s.held) >= e.cfg.MaxHeldServerRequests:
			// Safe: it is unacknowledged, so the server sends it again.
			e.ignore(what, "hold-back queue full; the server redelivers it")
		default:
			s.held = slices.Insert(s.held, i, toDelivery(m))
		}
	}
}

func (s *serverRequests) deliver(e *Engine, d DeliverServerRequest) {
	s.last = d.ID
	e.emit(d)
}

func toDelivery(m *protocol.ServerRequest) DeliverServerRequest {
	d := DeliverServerRequest{ID: m.RequestID, Payload: bytes.Clone(m.Payload), CreatedAt: m.CreatedAt}
	if d.Payload == nil {
		d.Payload = []byte{}
	}
	if m.Ext != nil {
		d.TraceParent, d.TraceState = m.Ext.TraceParent, m.Ext.TraceState
	}
	return d
}
