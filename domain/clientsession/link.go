package clientsession

import (
	"fmt"

	"github.com/zraft/zraft/protocol"
)

type phase uint8

const (
	// phaseIdle: no connection; the next attempt starts at retryAt.
	phaseIdle phase = iota
	// phaseDialing: Connect emitted, waiting for ConnectionUp until deadline.
	phaseDialing
	// phaseHandshake: CreateSession or ContinueSession sent with nonce, waiting for the
	// answer until deadline.
	phaseHandshake
	// phaseUp: the session is confirmed on this connection (StateConnected).
	phaseUp
)

// link is the connection side of the engine: which member, which connection, which
// attempt, and the timers that go with them.
type link struct {
	members []protocol.Member
	// target is the index of the member of the current or next attempt.
	target int
	phase  phase
	conn   ConnID
	nonce  protocol.Nonce
	// deadline ends the current dialing or handshake phase.
	deadline int64
	// retryAt starts the next attempt (phaseIdle).
	retryAt int64
	// failures counts failed attempts since the last confirmed session; every
	// len(members) of them make a round, after which the engine backs off.
	failures int
	rng      uint64
	// ext is the extension version the server confirmed on this connection.
	ext uint8

	lastHeard, nextKeepAlive int64
}

// jitter returns a pseudo-random number in [0, n] from an xorshift64 generator: a pure
// function of the seed and the draws so far.
func (l *link) jitter(n int64) int64 {
	if n <= 0 {
		return 0
	}
	x := l.rng
	x ^= x << 13
	x ^= x >> 7
	x ^= x << 17
	l.rng = x
	return int64(x % uint64(n+1))
}

// backoff returns the pause before the next attempt: none within a round, then the base
// doubled per completed round, capped, with jitter in [d/2, d].
func (e *Engine) backoff() int64 {
	n := len(e.link.members)
	if e.link.failures%n != 0 {
		return 0
	}
	d := e.cfg.BackoffBase
	for r := e.link.failures / n; r > 1 && d < e.cfg.BackoffMax; r-- {
		d *= 2
	}
	d = min(d, e.cfg.BackoffMax)
	return d/2 + e.link.jitter(d-d/2)
}

func (e *Engine) member(id protocol.MemberID) (int, bool) {
	if id == "" {
		return 0, false
	}
	for i, m := range e.link.members {
		if m.ID == id {
			return i, true
		}
	}
	return 0, false
}

// mergeMembers adds or updates the members a server announced in an extension block.
// Entries past MaxMembers or without id or endpoint are reported in one Ignored output.
func (e *Engine) mergeMembers(ext *protocol.Extensions) {
	if ext == nil {
		return
	}
	refused := 0
	for _, m := range ext.Members {
		if m.ID == "" || m.Endpoint == "" {
			refused++
			continue
		}
		if i, ok := e.member(m.ID); ok {
			e.link.members[i].Endpoint = m.Endpoint
			continue
		}
		if len(e.link.members) >= e.cfg.MaxMembers {
			refused++
			continue
		}
		e.link.members = append(e.link.members, m)
	}
	if refused > 0 {
		e.ignore(fmt.Sprintf("%d members entries", refused), "empty, or past MaxMembers")
	}
}

// release asks the shell to close the current connection, if any.
func (l *link) release(e *Engine) {
	if l.phase != phaseIdle {
		e.emit(Disconnect{Conn: l.conn})
	}
	l.phase = phaseIdle
	l.ext = 0
}

// where says where the next attempt goes after a failure.
type where uint8

const (
	nextMember where = iota
	sameMember
)

// fail abandons the current connection or attempt and schedules the next one: to the
// hinted leader when it is a known member, else to the same or the next member.
func (e *Engine) fail(reason string, hint protocol.MemberID, to where) {
	l := &e.link
	failed := l.members[l.target].ID
	l.release(e)
	if e.state == StateConnected {
		e.state = StateConnectingExisting
	}
	l.failures++
	if i, ok := e.member(hint); ok {
		l.target = i
	} else if to == nextMember {
		l.target = (l.target + 1) % len(l.members)
	}
	l.retryAt = e.now + e.backoff()
	e.emit(Event{Kind: EventReconnecting, Member: failed, SessionID: e.session, Reason: reason})
}

func (e *Engine) startAttempt() {
	l := &e.link
	l.conn++
	l.phase = phaseDialing
	l.deadline = e.now + e.cfg.ConnectTimeout
	m := l.members[l.target]
	e.emit(Connect{Conn: l.conn, Member: m.ID, Endpoint: m.Endpoint})
}

func (e *Engine) stale(what string, conn ConnID) bool {
	if e.state == StateClosed {
		e.ignore(what, "engine closed")
		return true
	}
	if conn != e.link.conn || e.link.phase == phaseIdle {
		e.ignore(what, "not the current connection")
		return true
	}
	return false
}

func (e *Engine) connectionUp(in ConnectionUp) {
	if e.stale("ConnectionUp", in.Conn) {
		return
	}
	l := &e.link
	if l.phase != phaseDialing {
		e.ignore("ConnectionUp", "connection already up")
		return
	}
	l.phase = phaseHandshake
	l.nonce = in.Nonce
	l.deadline = e.now + e.cfg.ConnectTimeout
	if e.state == StateConnectingNew {
		e.send(&protocol.CreateSession{Capabilities: e.cfg.createCaps(), Nonce: in.Nonce})
	} else {
		e.send(&protocol.ContinueSession{SessionID: e.session, Nonce: in.Nonce})
	}
}

func (e *Engine) connectionDown(in ConnectionDown) {
	if e.stale("ConnectionDown", in.Conn) {
		return
	}
	e.fail("connection lost", "", nextMember)
}

// confirmed makes the session live on the current connection and re-sends everything
// pending: commands in id order, then queries in the order they came. Extension blocks
// are used only when this engine declared them and this server confirmed them.
func (e *Engine) confirmed(m protocol.ServerMessage, isNew bool) {
	l := &e.link
	l.phase = phaseUp
	l.failures = 0
	l.ext = 0
	if v, ok := protocol.ConfirmedExtensions(m); ok && e.cfg.Extensions {
		l.ext = min(v, protocol.ExtensionVersion)
	}
	l.lastHeard = e.now
	l.nextKeepAlive = e.now + e.cfg.KeepAliveInterval
	e.state = StateConnected
	e.emit(Event{Kind: EventConnected, Member: l.members[l.target].ID, SessionID: e.session, New: isNew})
	e.calls.resendAll(e)
}

// timers runs what is due at e.now. An attempt that fails and retries without pause
// starts in the same call; its own deadline lies in the future, so this ends.
func (e *Engine) timers() {
	if e.state == StateClosed {
		return
	}
	l := &e.link
	switch l.phase {
	case phaseDialing, phaseHandshake:
		if e.now >= l.deadline {
			why := "connect timeout"
			if l.phase == phaseHandshake {
				why = "no session answer"
			}
			e.fail(why, "", nextMember)
		}
	case phaseUp:
		if e.now-l.lastHeard >= e.cfg.KeepAliveTimeout {
			e.fail("keep-alive timeout", "", nextMember)
			break
		}
		if e.now >= l.nextKeepAlive {
			e.send(&protocol.KeepAlive{Timestamp: protocol.Timestamp(e.now)})
			l.nextKeepAlive = e.now + e.cfg.KeepAliveInterval
		}
		e.calls.resendDue(e)
	}
	if l.phase == phaseIdle && e.now >= l.retryAt {
		e.startAttempt()
	}
}
