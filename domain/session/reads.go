package session

import "iter"

// Query routes a read-only query of session to the application: Replied or AppFailed, or
// Rejected(SessionExpired) when the session does not exist. It changes nothing; the
// caller decides how fresh the state must be (linearizable, lease or stale).
func (m *Machine) Query(session string, payload []byte) Outcome {
	if m.sessions[session] == nil {
		return Outcome{Kind: Rejected, Reject: SessionExpired, Session: session}
	}
	reply, err := m.app.Query(session, payload)
	if err != nil {
		return Outcome{Kind: AppFailed, Session: session, Data: appErrorData(err)}
	}
	return Outcome{Kind: Replied, Session: session, Data: reply}
}

// Info describes a live session, for the leader-local gateway and for tests.
type Info struct {
	ID string
	// Capabilities are sorted by key; do not modify them.
	Capabilities []Capability
	CreatedAt    int64
	LastActivity int64
	// Floor is the watermark: uncached request ids below it get ResponseEvicted.
	Floor uint64
	// LastSeq is the last server request sequence number issued (0: none yet).
	LastSeq uint64
	// Cached and Pending count cached responses and unacknowledged server requests.
	Cached  int
	Pending int
}

func (s *session) info() Info {
	return Info{
		ID: s.id, Capabilities: s.caps.pairs, CreatedAt: s.createdAt, LastActivity: s.lastActivity,
		Floor: s.floor, LastSeq: s.nextSeq, Cached: len(s.cache), Pending: len(s.pending),
	}
}

// Session describes a live session.
func (m *Machine) Session(id string) (Info, bool) {
	s := m.sessions[id]
	if s == nil {
		return Info{}, false
	}
	return s.info(), true
}

// Sessions yields every live session, least recently active first. The machine must not
// be changed during the iteration.
func (m *Machine) Sessions() iter.Seq[Info] {
	return func(yield func(Info) bool) {
		for s := m.head; s != nil; s = s.next {
			if !yield(s.info()) {
				return
			}
		}
	}
}

// Len is the number of live sessions.
func (m *Machine) Len() int { return len(m.sessions) }

// PendingServerRequests returns session's unacknowledged server requests in sequence
// order, for the leader to re-send when the client continues its session.
func (m *Machine) PendingServerRequests(session string) []ServerRequest {
	s := m.sessions[session]
	if s == nil {
		return nil
	}
	out := make([]ServerRequest, len(s.pending))
	for i, p := range s.pending {
		out[i] = ServerRequest{Session: s.id, Seq: p.seq, Payload: p.payload, CreatedAt: p.createdAt, Attempt: p.attempts}
	}
	return out
}

// Now is the log time: the highest leader stamp applied so far.
func (m *Machine) Now() int64 { return m.now }

// LastIndex is the log index of the last entry applied (or restored).
func (m *Machine) LastIndex() uint64 { return m.lastIndex }

// Term is the highest term a LeaderStarted command announced.
func (m *Machine) Term() uint64 { return m.term }

// NextExpiry returns the log time after which the least recently active session expires
// (at least the end of a running grace period), and false when there is no session. A
// leader with nothing else to propose should propose an entry (a Touch, a Redelivery)
// stamped after it, because expiry is only decided when an entry is applied.
func (m *Machine) NextExpiry() (int64, bool) {
	if m.head == nil {
		return 0, false
	}
	return max(m.deadline(m.head), m.graceUntil), true
}
