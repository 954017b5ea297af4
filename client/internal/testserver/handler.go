package testserver

import (
	"fmt"
	"time"

	"github.com/zraft/zraft/adapters/zmtp"
	"github.com/zraft/zraft/protocol"
)

// handle serves one client message; the cluster's lock is held.
func (m *Member) handle(owned map[zmtp.RoutingID]string, rid zmtp.RoutingID, data []byte) {
	c := m.c
	msg, err := protocol.DecodeClientMessage(data)
	if err != nil {
		_ = m.srv.Disconnect(rid)
		return
	}
	leader := c.leader == m.idx
	hint := c.leaderID()
	sess := c.sessions[owned[rid]]
	if sess != nil && sess.owner != m {
		sess = nil // another connection took the session over
	}
	c.checkExt(msg, sess)
	switch msg.(type) {
	case *protocol.ClientRequest, *protocol.Query:
		tp := ""
		if e := msg.Extensions(); e != nil {
			tp = e.TraceParent
		}
		c.traces = append(c.traces, tp)
	}
	switch msg := msg.(type) {
	case *protocol.CreateSession:
		ext := uint8(0)
		if c.cfg.Extensions {
			ext = protocol.NegotiateExtensions(msg.Capabilities, protocol.ExtensionVersion)
		}
		if !leader {
			m.send(rid, &protocol.SessionRejected{Reason: protocol.RejectNotLeader, Nonce: msg.Nonce,
				Leader: hint, HasLeader: hint != "", Ext: c.membersExt(ext)})
			return
		}
		if c.cfg.RejectSessions {
			m.send(rid, &protocol.SessionRejected{Reason: protocol.RejectInvalidCapabilities, Nonce: msg.Nonce})
			return
		}
		s := &session{id: newSessionID(), ext: ext, lastSeen: time.Now(), responses: map[protocol.RequestID][]byte{}}
		c.sessions[s.id] = s
		m.own(owned, rid, s)
		m.send(rid, &protocol.SessionCreated{SessionID: protocol.SessionID(s.id), Nonce: msg.Nonce, Ext: c.confirmExt(ext)})
	case *protocol.ContinueSession:
		s := c.sessions[string(msg.SessionID)]
		if !leader {
			ext := uint8(0)
			if s != nil {
				ext = s.ext
			}
			m.send(rid, &protocol.SessionRejected{Reason: protocol.RejectNotLeader, Nonce: msg.Nonce,
				Leader: hint, HasLeader: hint != "", Ext: c.membersExt(ext)})
			return
		}
		if s == nil {
			m.send(rid, &protocol.SessionRejected{Reason: protocol.RejectSessionExpired, Nonce: msg.Nonce})
			return
		}
		if s.owner != nil && (s.owner != m || s.ownerConn != rid) && s.owner.srv != nil {
			_ = s.owner.srv.Disconnect(s.ownerConn) // the newest connection wins
		}
		s.lastSeen = time.Now()
		m.own(owned, rid, s)
		m.send(rid, &protocol.SessionContinued{Nonce: msg.Nonce, Ext: c.confirmExt(s.ext)})
		for i := range s.pending {
			m.send(rid, &s.pending[i])
		}
	case *protocol.KeepAlive:
		if !m.sessionOK(rid, sess, leader, hint) {
			return
		}
		sess.lastSeen = time.Now()
		m.send(rid, &protocol.KeepAliveResponse{Timestamp: msg.Timestamp})
	case *protocol.ClientRequest:
		if !m.sessionOK(rid, sess, leader, hint) {
			return
		}
		sess.lastSeen = time.Now()
		reply := c.apply(sess, msg)
		if !c.dropReplies {
			m.send(rid, reply)
		}
	case *protocol.ServerRequestAck:
		if !m.sessionOK(rid, sess, leader, hint) {
			return
		}
		sess.lastSeen = time.Now()
		i := 0
		for i < len(sess.pending) && sess.pending[i].RequestID <= msg.RequestID {
			i++
		}
		sess.pending = sess.pending[i:]
	case *protocol.Query:
		if !m.sessionOK(rid, sess, leader, hint) {
			return
		}
		sess.lastSeen = time.Now()
		level := protocol.Consistency(0)
		if msg.Ext != nil {
			level = msg.Ext.Consistency
		}
		c.queries = append(c.queries, level)
		m.send(rid, &protocol.QueryResponse{CorrelationID: msg.CorrelationID,
			Result: c.cfg.App.Query(sess.id, msg.Payload)})
	case *protocol.CloseSession:
		if sess != nil && leader {
			c.endSession(sess, false)
		}
		delete(owned, rid)
	case *protocol.ConnectionClosed:
		m.dropConn(owned, rid)
		_ = m.srv.Disconnect(rid)
	}
}

// sessionOK answers a session message that cannot be served, as zraft's gateway does.
func (m *Member) sessionOK(rid zmtp.RoutingID, s *session, leader bool, hint protocol.MemberID) bool {
	switch {
	case !leader:
		ext := uint8(0)
		if s != nil {
			ext = s.ext
		}
		m.send(rid, &protocol.SessionClosed{Reason: protocol.CloseNotLeaderAnymore, Leader: hint,
			HasLeader: hint != "", Ext: m.c.membersExt(ext)})
		return false
	case s == nil:
		m.send(rid, &protocol.SessionClosed{Reason: protocol.CloseSessionError})
		return false
	}
	return true
}

func (m *Member) own(owned map[zmtp.RoutingID]string, rid zmtp.RoutingID, s *session) {
	owned[rid] = s.id
	s.owner, s.ownerConn = m, rid
}

func (m *Member) dropConn(owned map[zmtp.RoutingID]string, rid zmtp.RoutingID) {
	if s, ok := m.c.sessions[owned[rid]]; ok && s.owner == m && s.ownerConn == rid {
		s.owner = nil
	}
	delete(owned, rid)
}

func (c *Cluster) confirmExt(ext uint8) *protocol.Extensions {
	if ext == 0 {
		return nil
	}
	e := c.membersExt(ext)
	e.Version = ext
	return e
}

// checkExt records a client's extension block on a session that did not negotiate one
// (CreateSession and ContinueSession never may carry one).
func (c *Cluster) checkExt(msg protocol.ClientMessage, s *session) {
	ext := msg.Extensions()
	if ext == nil {
		return
	}
	switch msg.(type) {
	case *protocol.ClientRequest, *protocol.Query:
		if s != nil && s.ext > 0 {
			return
		}
	}
	c.violations = append(c.violations, fmt.Sprintf("%T with an extension block", msg))
}

// apply runs a command through the response cache, as the replicated state machine does.
func (c *Cluster) apply(s *session, r *protocol.ClientRequest) protocol.ServerMessage {
	if res, ok := s.responses[r.RequestID]; ok {
		return &protocol.ClientResponse{RequestID: r.RequestID, Result: res}
	}
	if r.RequestID < s.highestK {
		return &protocol.RequestError{RequestID: r.RequestID, Reason: protocol.ErrorResponseEvicted}
	}
	runs := c.applied[s.id]
	if runs == nil {
		runs = map[protocol.RequestID]int{}
		c.applied[s.id] = runs
	}
	runs[r.RequestID]++
	res := c.cfg.App.Apply(s.id, r.Payload, func(to string, payload []byte) { c.push(to, payload) })
	s.responses[r.RequestID] = res
	s.order = append(s.order, r.RequestID)
	s.highestK = max(s.highestK, r.LowestPendingRequestID)
	kept := s.order[:0]
	for _, id := range s.order {
		if id < s.highestK {
			delete(s.responses, id)
		} else {
			kept = append(kept, id)
		}
	}
	s.order = kept
	for len(s.order) > c.cfg.MaxCachedResponses {
		delete(s.responses, s.order[0])
		s.highestK = max(s.highestK, s.order[0]+1)
		s.order = s.order[1:]
	}
	return &protocol.ClientResponse{RequestID: r.RequestID, Result: res}
}
