package gateway

import (
	"fmt"

	"github.com/zraft/zraft/domain/session"
	"github.com/zraft/zraft/protocol"
)

// message handles one frame from a connection. Malformed input closes that connection
// only; everything else is answered following semantics.md, or proposed.
func (g *Gateway) message(in Message) error {
	c := g.conns[in.RoutingID]
	if c == nil {
		c = &conn{id: in.RoutingID}
		g.conns[in.RoutingID] = c
	} else if c.closing {
		g.stats.Ignored++
		return nil
	}
	m, err := g.dec.DecodeClientMessage(in.Bytes)
	if err == nil {
		err = checkClientMessage(m)
	}
	if err != nil {
		g.stats.Malformed++
		g.closeConn(c, CloseMalformed)
		return nil
	}
	g.last = received{msg: m, session: c.session}
	if _, ok := m.(*protocol.ConnectionClosed); ok {
		g.closeConn(c, ClosePeerClosed)
		return nil
	}
	if !g.leader {
		g.followerMessage(c, m)
		return nil
	}
	switch m := m.(type) {
	case *protocol.CreateSession:
		return g.createSession(c, m, in.NewSessionID)
	case *protocol.ContinueSession:
		g.continueSession(c, m)
	case *protocol.CloseSession:
		// Closing a session one does not own is a no-op, as in zio-raft.
		if c.session != "" {
			s := c.session
			g.release(c)
			g.closes[s] = struct{}{}
			g.propose(session.CloseSession{At: g.now, Session: s})
		}
	default:
		if c.session == "" {
			g.send(c, &protocol.SessionClosed{Reason: protocol.CloseSessionError})
			g.closeConn(c, CloseNoSession)
			return nil
		}
		g.sessionMessage(c, m)
	}
	return nil
}

// checkClientMessage enforces the rules the codec leaves to the server: request ids
// start at 1 and acknowledgements and watermarks are not negative.
func checkClientMessage(m protocol.ClientMessage) error {
	switch m := m.(type) {
	case *protocol.ClientRequest:
		if m.RequestID < 1 || m.LowestPendingRequestID < 0 {
			return fmt.Errorf("gateway: request id %d, lowest pending %d", m.RequestID, m.LowestPendingRequestID)
		}
	case *protocol.ServerRequestAck:
		if m.RequestID < 0 {
			return fmt.Errorf("gateway: acknowledgement %d", m.RequestID)
		}
	}
	return nil
}

// followerMessage answers a client that reached a member that does not lead: where to go
// instead, then the connection is closed (as zio-raft's server does).
func (g *Gateway) followerMessage(c *conn, m protocol.ClientMessage) {
	switch m := m.(type) {
	case *protocol.CreateSession:
		g.send(c, &protocol.SessionRejected{Reason: protocol.RejectNotLeader, Nonce: m.Nonce, Leader: g.leaderID,
			HasLeader: g.hasLeader, Ext: g.ext(g.negotiate(m.Capabilities), false)})
	case *protocol.ContinueSession:
		var v uint8
		if info, ok := g.cfg.View.Session(string(m.SessionID)); ok {
			v = g.negotiateSession(info)
		}
		g.send(c, &protocol.SessionRejected{Reason: protocol.RejectNotLeader, Nonce: m.Nonce, Leader: g.leaderID,
			HasLeader: g.hasLeader, Ext: g.ext(v, false)})
	default:
		// A session message here means the client missed (or raced) our step-down.
		g.send(c, &protocol.SessionClosed{Reason: protocol.CloseNotLeaderAnymore, Leader: g.leaderID, HasLeader: g.hasLeader})
	}
	g.closeConn(c, CloseNotLeader)
}

func (g *Gateway) createSession(c *conn, m *protocol.CreateSession, id string) error {
	_, creating := g.creations[id]
	_, owned := g.owners[id]
	if id == "" || creating || owned {
		g.send(c, &protocol.SessionRejected{Reason: protocol.RejectOther, Nonce: m.Nonce})
		return fmt.Errorf("%w: %q", ErrNoSessionID, id)
	}
	g.release(c)
	v := g.negotiate(m.Capabilities)
	g.creations[id] = creation{rid: c.id, nonce: m.Nonce, ext: v}
	c.creating, c.ext = id, v
	caps := make([]session.Capability, len(m.Capabilities))
	for i, kv := range m.Capabilities {
		caps[i] = session.Capability{Key: kv.Key, Value: kv.Value}
	}
	g.propose(session.CreateSession{At: g.now, ID: id, Capabilities: caps})
	return nil
}

// continueSession binds the session to c if it exists (newest connection wins) and
// re-sends its unacknowledged server requests at once.
func (g *Gateway) continueSession(c *conn, m *protocol.ContinueSession) {
	id := string(m.SessionID)
	info, ok := g.cfg.View.Session(id)
	if !ok {
		g.send(c, &protocol.SessionRejected{Reason: protocol.RejectSessionExpired, Nonce: m.Nonce})
		g.closeConn(c, CloseSessionNotFound)
		return
	}
	if old := g.owner(id); old != nil && old != c {
		g.closeConn(old, CloseReplaced)
	}
	v := g.negotiateSession(info)
	g.bind(c, id, v)
	g.touched[id] = struct{}{}
	g.send(c, &protocol.SessionContinued{Nonce: m.Nonce, Ext: g.ext(v, true)})
	for _, r := range g.cfg.View.PendingServerRequests(id) {
		g.send(c, serverRequest(r))
	}
}

// sessionMessage handles the messages of a connection that owns a session.
func (g *Gateway) sessionMessage(c *conn, m protocol.ClientMessage) {
	s := c.session
	switch m := m.(type) {
	case *protocol.KeepAlive:
		g.touched[s] = struct{}{}
		g.send(c, &protocol.KeepAliveResponse{Timestamp: m.Timestamp})
	case *protocol.ClientRequest:
		// Applying the request touches the session: no Touch needed.
		key := requestKey{s, uint64(m.RequestID)}
		if _, inFlight := g.requests[key]; inFlight {
			return // its outcome goes to whichever connection owns the session then
		}
		if !g.admit(c, m.RequestID, true) {
			return
		}
		g.requests[key] = struct{}{}
		g.propose(session.ClientRequest{At: g.now, Session: s, RequestID: key.id,
			LowestPending: uint64(m.LowestPendingRequestID), Payload: m.Payload})
	case *protocol.ServerRequestAck:
		// Applying Acks touches the session.
		if up := uint64(m.RequestID); up >= g.acks[s] {
			g.acks[s] = up
		}
	case *protocol.Query:
		g.touched[s] = struct{}{}
		if !g.admit(c, 0, false) {
			return
		}
		level := protocol.ConsistencyLinearizable
		if c.ext > 0 && m.Ext != nil && m.Ext.Consistency.Known() {
			level = m.Ext.Consistency
		}
		g.nextRead++
		r := &pendingRead{session: s, correlation: m.CorrelationID, payload: m.Payload, consistency: level}
		g.reads[g.nextRead] = r
		g.emitRead(g.nextRead, r)
	}
}

func serverRequest(r session.ServerRequest) *protocol.ServerRequest {
	return &protocol.ServerRequest{RequestID: protocol.RequestID(r.Seq), Payload: r.Payload, CreatedAt: protocol.Timestamp(r.CreatedAt)}
}
