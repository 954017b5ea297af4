package gateway

import (
	"github.com/zraft/zraft/domain/session"
	"github.com/zraft/zraft/protocol"
)

// applied routes what one applied log entry produced: the answers to the commands that
// wait for them, then the server requests, then the end of expired and closed sessions.
// Answers come before server requests so that a client learns of its new session
// before the first request addressed to it.
func (g *Gateway) applied(cmd session.Command, res session.Result) {
	if !g.leader {
		return
	}
	if b, ok := cmd.(session.Batch); ok {
		for i, o := range res.Outcomes {
			if i < len(b.Commands) {
				g.outcome(b.Commands[i], o)
			}
		}
	} else if len(res.Outcomes) > 0 {
		g.outcome(cmd, res.Outcomes[0])
	}
	for _, r := range res.ServerRequests {
		if c := g.owner(r.Session); c != nil {
			g.send(c, serverRequest(r))
		} else {
			g.stats.Unrouted++
		}
	}
	for _, s := range res.Expired {
		g.sessionGone(s)
	}
	for _, s := range res.Closed {
		g.sessionGone(s)
	}
}

func (g *Gateway) outcome(cmd session.Command, o session.Outcome) {
	switch cmd := cmd.(type) {
	case session.CreateSession:
		g.created(cmd.ID, o)
	case session.ClientRequest:
		key := requestKey{cmd.Session, cmd.RequestID}
		if _, ok := g.requests[key]; !ok {
			return // not ours, or already answered: a duplicate is answered once
		}
		delete(g.requests, key)
		g.settled(cmd.Session)
		c := g.owner(cmd.Session)
		if c == nil {
			g.stats.Unrouted++
			return
		}
		rid := protocol.RequestID(cmd.RequestID)
		switch {
		case o.Kind == session.Replied || o.Kind == session.AppFailed:
			// Protocol v1 has no application-error message: the application's error
			// bytes are its reply, as the application chose them.
			g.send(c, &protocol.ClientResponse{RequestID: rid, Result: o.Data})
		case o.Reject == session.ResponseEvicted:
			g.send(c, &protocol.RequestError{RequestID: rid, Reason: protocol.ErrorResponseEvicted})
		default: // SessionExpired
			g.sessionGone(cmd.Session)
		}
	case session.CloseSession:
		delete(g.closes, cmd.Session)
	case session.Touch, session.Acks:
		for _, s := range o.Missing {
			g.sessionGone(s)
		}
	}
}

// created answers a CreateSession once it is applied, if its connection still waits.
func (g *Gateway) created(id string, o session.Outcome) {
	cr, ok := g.creations[id]
	if !ok {
		return
	}
	delete(g.creations, id)
	c := g.conns[cr.rid]
	if c == nil || c.closing || c.creating != id {
		// The client left or moved on; the unused session expires on its own.
		g.stats.Unrouted++
		return
	}
	switch {
	case o.Kind == session.Done:
		g.bind(c, id, cr.ext)
		g.send(c, &protocol.SessionCreated{SessionID: protocol.SessionID(id), Nonce: cr.nonce, Ext: g.ext(cr.ext, true)})
	case o.Reject == session.InvalidCapabilities:
		c.creating, c.ext = "", 0
		g.send(c, &protocol.SessionRejected{Reason: protocol.RejectInvalidCapabilities, Nonce: cr.nonce, Ext: g.ext(cr.ext, false)})
	default: // SessionExists: the id collided
		c.creating, c.ext = "", 0
		g.send(c, &protocol.SessionRejected{Reason: protocol.RejectOther, Nonce: cr.nonce, Ext: g.ext(cr.ext, false)})
	}
}

// sessionGone tells the owner of a session that expired or was closed, and unbinds it.
func (g *Gateway) sessionGone(s string) {
	c := g.owner(s)
	if c == nil {
		return
	}
	g.release(c)
	g.send(c, &protocol.SessionClosed{Reason: protocol.CloseSessionExpired})
}

// proposalFailed queues for the next Tick what in cmd still waits for the log.
func (g *Gateway) proposalFailed(cmd session.Command) {
	if !g.leader {
		return // everything in flight was dropped on step-down
	}
	switch cmd := cmd.(type) {
	case session.Batch:
		for _, c := range cmd.Commands {
			g.proposalFailed(c)
		}
	case session.CreateSession, session.ClientRequest, session.CloseSession:
		g.retry = append(g.retry, cmd)
	case session.Touch:
		for _, s := range cmd.Sessions {
			g.touched[s] = struct{}{}
		}
	case session.Acks:
		for _, a := range cmd.Acks {
			if a.UpTo >= g.acks[a.Session] {
				g.acks[a.Session] = a.UpTo
			}
		}
	}
	// Redelivery is proposed again on its interval; LeaderStarted and Internal are not
	// the gateway's.
}

// waiting reports whether a command to propose again still waits for its outcome: the
// failed proposal may have committed after all (outcome unknown) and been answered.
func (g *Gateway) waiting(cmd session.Command) bool {
	switch c := cmd.(type) {
	case session.CreateSession:
		_, ok := g.creations[c.ID]
		return ok
	case session.ClientRequest:
		_, ok := g.requests[requestKey{c.Session, c.RequestID}]
		return ok
	case session.CloseSession:
		_, ok := g.closes[c.Session]
		return ok
	}
	return false
}

// restamp returns cmd carrying the time of its new proposal.
func restamp(cmd session.Command, now int64) session.Command {
	switch c := cmd.(type) {
	case session.CreateSession:
		c.At = now
		return c
	case session.ClientRequest:
		c.At = now
		return c
	case session.CloseSession:
		c.At = now
		return c
	}
	return cmd
}

func (g *Gateway) readDone(id uint64, o session.Outcome) {
	r := g.reads[id]
	if r == nil {
		return // answered already, or dropped on step-down
	}
	delete(g.reads, id)
	g.settled(r.session)
	c := g.owner(r.session)
	if c == nil {
		g.stats.Unrouted++
		return
	}
	if o.Kind == session.Rejected {
		g.sessionGone(r.session)
		return
	}
	g.send(c, &protocol.QueryResponse{CorrelationID: r.correlation, Result: o.Data})
}

// disconnected forgets a connection the transport closed.
func (g *Gateway) disconnected(rid RoutingID) {
	c := g.conns[rid]
	if c == nil {
		return
	}
	g.release(c)
	delete(g.conns, rid)
}
