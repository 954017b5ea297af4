package clientsession

import (
	"github.com/zraft/zraft/protocol"
)

// received decodes a server message and dispatches it. Malformed bytes break the
// connection: the engine cannot know what it missed, so it continues elsewhere.
func (e *Engine) received(in Received) {
	if e.stale("Received", in.Conn) {
		return
	}
	l := &e.link
	if l.phase == phaseDialing {
		e.ignore("Received", "message before ConnectionUp")
		return
	}
	if len(in.Bytes) > e.cfg.MaxMessageSize {
		e.tooLarge(ReceivedTooLarge{Conn: in.Conn, Prefix: in.Bytes[:min(len(in.Bytes), tooLargePrefix)], Size: uint64(len(in.Bytes))})
		return
	}
	m, err := protocol.Decoder{MaxMessageSize: e.cfg.MaxMessageSize}.DecodeServerMessage(in.Bytes)
	if err != nil {
		e.fail("malformed message: "+err.Error(), "", nextMember)
		return
	}
	if l.phase == phaseUp {
		l.lastHeard = e.now
	}
	switch m := m.(type) {
	case *protocol.SessionCreated:
		if e.state != StateConnectingNew || l.phase != phaseHandshake || m.Nonce != l.nonce {
			e.ignore("SessionCreated", e.unexpected(m.Nonce))
			return
		}
		e.session = m.SessionID
		e.mergeMembers(m.Ext)
		e.confirmed(m, true)
	case *protocol.SessionContinued:
		if e.state != StateConnectingExisting || l.phase != phaseHandshake || m.Nonce != l.nonce {
			e.ignore("SessionContinued", e.unexpected(m.Nonce))
			return
		}
		e.mergeMembers(m.Ext)
		e.confirmed(m, false)
	case *protocol.SessionRejected:
		if l.phase != phaseHandshake || m.Nonce != l.nonce {
			e.ignore("SessionRejected", e.unexpected(m.Nonce))
			return
		}
		e.mergeMembers(m.Ext)
		e.rejected(m)
	case *protocol.SessionClosed:
		e.mergeMembers(m.Ext)
		e.sessionClosed(m)
	case *protocol.KeepAliveResponse:
		if l.phase != phaseUp {
			e.ignore("KeepAliveResponse", "no session on this connection yet")
		}
	case *protocol.ClientResponse:
		if e.dataAllowed("ClientResponse") {
			e.calls.response(e, m)
		}
	case *protocol.RequestError:
		if e.dataAllowed("RequestError") {
			e.calls.requestError(e, m)
		}
	case *protocol.QueryResponse:
		if e.dataAllowed("QueryResponse") {
			e.calls.queryResponse(e, m)
		}
	case *protocol.ServerRequest:
		if e.dataAllowed("ServerRequest") {
			e.srv.receive(e, m)
		}
	}
}

func (e *Engine) unexpected(n protocol.Nonce) string {
	if e.link.phase == phaseHandshake && n != e.link.nonce {
		return "nonce mismatch"
	}
	return "not waiting for it in state " + e.state.String()
}

// dataAllowed: answers and server requests count only on a connection that carries the
// session. Before that, the server re-sends what matters after SessionContinued.
func (e *Engine) dataAllowed(what string) bool {
	if e.link.phase != phaseUp {
		e.ignore(what, "no session on this connection yet")
		return false
	}
	return true
}

func hintOf(leader protocol.MemberID, has bool) protocol.MemberID {
	if !has {
		return ""
	}
	return leader
}

func (e *Engine) rejected(m *protocol.SessionRejected) {
	hint := hintOf(m.Leader, m.HasLeader)
	switch m.Reason {
	case protocol.RejectNotLeader:
		e.fail("rejected: not leader", hint, nextMember)
	case protocol.RejectSessionExpired:
		if e.state == StateConnectingExisting {
			e.expire("continue rejected: session expired")
			return
		}
		e.fail("rejected: "+m.Reason.String(), hint, nextMember)
	case protocol.RejectInvalidCapabilities:
		if e.state == StateConnectingNew {
			e.finish(ErrInvalidCapabilities, Event{Kind: EventClosed, Reason: "create rejected: invalid capabilities"})
			return
		}
		e.fail("rejected: "+m.Reason.String(), hint, nextMember)
	default:
		e.fail("rejected: "+m.Reason.String(), hint, nextMember)
	}
}

// sessionClosed handles the server ending the session or the connection. Only
// SessionExpired ends the engine; everything else moves to another connection.
func (e *Engine) sessionClosed(m *protocol.SessionClosed) {
	hint := hintOf(m.Leader, m.HasLeader)
	switch m.Reason {
	case protocol.CloseSessionExpired:
		if e.state != StateConnectingNew {
			e.expire("closed by the server: session expired")
			return
		}
		e.fail("closed: "+m.Reason.String(), hint, nextMember)
	case protocol.CloseSessionError, protocol.CloseConnectionClosed:
		// The member is fine; only this connection is gone.
		e.fail("closed: "+m.Reason.String(), hint, sameMember)
	default:
		e.fail("closed: "+m.Reason.String(), hint, nextMember)
	}
}
