package clientsession

import (
	"encoding/binary"
	"fmt"
	"slices"

	"github.com/zraft/zraft/protocol"
)

// tooLargePrefix is how much of an oversize message the engine looks at: the header, a
// request id, or a correlation id of the length this package's shells draw (and more).
const tooLargePrefix = 512

// tooLarge handles a message over the size limit. Reconnecting would not help: the
// server would send the same answer again (from its response cache, for a command) and
// the client would reconnect forever. So the call it answers fails with
// ErrResultTooLarge and the connection stays.
func (e *Engine) tooLarge(in ReceivedTooLarge) {
	if e.stale("ReceivedTooLarge", in.Conn) {
		return
	}
	l := &e.link
	what := fmt.Sprintf("message of %d bytes (limit %d)", in.Size, e.cfg.MaxMessageSize)
	if l.phase != phaseUp {
		// Handshake answers are small: this peer is not one we can talk to.
		e.fail(what+" before the session", "", nextMember)
		return
	}
	l.lastHeard = e.now
	code, body, ok := oversizeHeader(in.Prefix)
	if !ok {
		e.ignore(what, "no zraft header")
		return
	}
	c := &e.calls
	failure := fmt.Errorf("%w: %d bytes, more than the %d accepted", ErrResultTooLarge, in.Size, e.cfg.MaxMessageSize)
	switch code {
	case protocol.CodeClientResponse:
		if len(body) < 8 {
			e.ignore(what, "ClientResponse too short to name its request")
			return
		}
		id := protocol.RequestID(int64(binary.BigEndian.Uint64(body)))
		i, ok := c.find(id)
		if !ok {
			e.ignore(what, fmt.Sprintf("ClientResponse %d not pending", id))
			return
		}
		c.complete(e, i, Deliver{Err: failure})
	case protocol.CodeQueryResponse:
		if len(body) < 2 || len(body) < 2+int(binary.BigEndian.Uint16(body)) {
			e.ignore(what, "QueryResponse too short to name its query")
			return
		}
		corr := protocol.CorrelationID(body[2 : 2+int(binary.BigEndian.Uint16(body))])
		i := slices.IndexFunc(c.queries, func(q *query) bool { return q.corr == corr })
		if i < 0 {
			e.ignore(what, fmt.Sprintf("QueryResponse %q not pending", corr))
			return
		}
		q := c.queries[i]
		c.queries = slices.Delete(c.queries, i, i+1)
		c.order.remove(&q.sent)
		delete(c.corrs, q.corr)
		delete(c.handles, q.handle)
		e.emit(Deliver{Handle: q.handle, Err: failure})
	case protocol.CodeServerRequest:
		// It cannot be delivered, and acknowledging it would lose it: it stays
		// unacknowledged, the server redelivers it, and later ones wait behind it.
		e.ignore(what, "server request over the size limit; not acknowledged")
	default:
		e.ignore(what, "not an answer to a call")
	}
}

// oversizeHeader checks the signature and version of a message's first bytes and returns
// its code and what follows.
func oversizeHeader(p []byte) (protocol.ServerCode, []byte, bool) {
	if len(p) < protocol.HeaderSize || string(p[:len(protocol.Signature)]) != protocol.Signature ||
		p[len(protocol.Signature)] != protocol.Version {
		return 0, nil, false
	}
	return protocol.ServerCode(p[protocol.HeaderSize-1]), p[protocol.HeaderSize:], true
}
