package session

import (
	"errors"
	"fmt"
	"math"
)

// Errors for misuse of a Machine. They leave the state unchanged.
var (
	// ErrIndexOrder: Apply was given a log index not above the last one applied.
	ErrIndexOrder = errors.New("session: log index not increasing")
	// ErrInvalidCommand: a nil command, or a Batch that is empty or nests a Batch.
	ErrInvalidCommand = errors.New("session: invalid command")
)

// Machine is the replicated session state machine. Create it with New; apply committed
// log entries with Apply or ApplyEntry in log order. It is not safe for concurrent use.
type Machine struct {
	cfg Config
	app Application

	sessions   map[string]*session
	head, tail *session // activity list, oldest first
	capsets    map[string]*capSet
	groups     map[Capability]*capGroup

	now        int64
	graceUntil int64
	term       uint64
	lastIndex  uint64
	createSeq  uint64 // sessions created so far
	// queued lists the sessions with unacknowledged server requests, in the order their
	// queues became non-empty (queueSeq counts those events), so that Redelivery visits
	// only them.
	queuedHead, queuedTail *session
	queueSeq               uint64

	res Result // the entry being applied
	env Env
}

// New returns an empty Machine. cfg's zero fields take their defaults; New panics if the
// result does not validate (a configuration error is a programming error here: check
// Config.Validate first when the values come from a user).
func New(cfg Config, app Application) *Machine {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		panic(err)
	}
	if app == nil {
		panic("session: New with a nil Application")
	}
	m := &Machine{cfg: cfg, app: app}
	m.reset()
	return m
}

func (m *Machine) reset() {
	m.sessions = make(map[string]*session)
	m.capsets = make(map[string]*capSet)
	m.groups = make(map[Capability]*capGroup)
	m.head, m.tail = nil, nil
	m.queuedHead, m.queuedTail = nil, nil
	m.now, m.graceUntil, m.term, m.lastIndex, m.createSeq, m.queueSeq = 0, 0, 0, 0, 0, 0
	m.env = Env{m: m, res: &m.res}
}

// ApplyEntry decodes a log entry (EncodeCommand's format) and applies it. An entry that
// does not decode is not applied and yields an error wrapping ErrMalformed.
func (m *Machine) ApplyEntry(index uint64, data []byte) (Result, error) {
	cmd, err := DecodeCommand(data)
	if err != nil {
		return Result{}, err
	}
	return m.Apply(index, cmd)
}

// Apply applies one committed command at log index (which must exceed the last index
// applied) and returns what it produced.
func (m *Machine) Apply(index uint64, cmd Command) (Result, error) {
	if index <= m.lastIndex {
		return Result{}, fmt.Errorf("%w: %d after %d", ErrIndexOrder, index, m.lastIndex)
	}
	if err := validate(cmd); err != nil {
		return Result{}, err
	}
	m.lastIndex = index
	// The result under construction lives in the machine, where Env can reach it without
	// a heap allocation per entry; it is handed over by value and forgotten.
	res := &m.res
	*res = Result{Index: index}
	if b, ok := cmd.(Batch); ok {
		res.Outcomes = make([]Outcome, 0, len(b.Commands))
		for _, c := range b.Commands {
			res.Outcomes = append(res.Outcomes, m.applyOne(c, res))
		}
	} else {
		res.Outcomes = []Outcome{m.applyOne(cmd, res)}
	}
	res.Now = m.now
	out := *res
	*res = Result{}
	return out, nil
}

// validate admits the command value types of this package (not pointers to them, which
// also satisfy Command) and one level of Batch.
func validate(cmd Command) error {
	if b, ok := cmd.(Batch); ok {
		if len(b.Commands) == 0 {
			return fmt.Errorf("%w: empty batch", ErrInvalidCommand)
		}
		for _, e := range b.Commands {
			if !isSingle(e) {
				return fmt.Errorf("%w: %T in a batch", ErrInvalidCommand, e)
			}
		}
		return nil
	}
	if !isSingle(cmd) {
		return fmt.Errorf("%w: %T", ErrInvalidCommand, cmd)
	}
	return nil
}

func isSingle(cmd Command) bool {
	switch cmd.(type) {
	case CreateSession, ClientRequest, Touch, Acks, CloseSession, LeaderStarted, Redelivery, Internal:
		return true
	}
	return false
}

func (m *Machine) applyOne(cmd Command, res *Result) Outcome {
	if at := stamp(cmd); at > m.now {
		m.now = at
	}
	if ls, ok := cmd.(LeaderStarted); ok {
		// The grace starts before this entry's expiry check: otherwise the first entry of
		// a leader elected after a long outage would expire everyone it should protect.
		m.term = max(m.term, ls.Term)
		m.graceUntil = max(m.graceUntil, addSat(m.now, m.cfg.LeaderGrace))
	}
	m.expire(res)
	switch c := cmd.(type) {
	case CreateSession:
		return m.create(c, res)
	case ClientRequest:
		return m.request(c)
	case Touch:
		out := Outcome{Kind: Done}
		for _, id := range c.Sessions {
			if s := m.sessions[id]; s != nil {
				m.touch(s)
			} else {
				out.Missing = append(out.Missing, id)
			}
		}
		return out
	case Acks:
		out := Outcome{Kind: Done}
		for _, a := range c.Acks {
			if s := m.sessions[a.Session]; s != nil {
				m.touch(s)
				m.ack(s, a.UpTo)
			} else {
				out.Missing = append(out.Missing, a.Session)
			}
		}
		return out
	case CloseSession:
		s := m.sessions[c.Session]
		if s == nil {
			return Outcome{Kind: Rejected, Reject: SessionExpired, Session: c.Session}
		}
		m.remove(s)
		res.Closed = append(res.Closed, c.Session)
		m.app.SessionEnded(&m.env, c.Session, Closed)
		return Outcome{Kind: Done, Session: c.Session}
	case LeaderStarted:
		return Outcome{Kind: Done}
	case Redelivery:
		m.redeliver(res)
		return Outcome{Kind: Done}
	case Internal:
		reply, err := m.app.ApplyInternal(&m.env, c.Payload)
		if err != nil {
			return Outcome{Kind: AppFailed, Data: appErrorData(err)}
		}
		return Outcome{Kind: Replied, Data: reply}
	}
	panic(fmt.Sprintf("session: unhandled command %T", cmd)) // validate admits only the types above
}

// expire removes every session whose deadline log time has passed, oldest first, unless
// a leader-change grace period is running.
func (m *Machine) expire(res *Result) {
	if m.now <= m.graceUntil {
		return
	}
	first := len(res.Expired)
	for m.head != nil && m.deadline(m.head) < m.now {
		res.Expired = append(res.Expired, m.head.id)
		m.remove(m.head)
	}
	// The hooks run once all of them are gone, so that none sends work to a session
	// that is expiring in the same step.
	for _, id := range res.Expired[first:] {
		m.app.SessionEnded(&m.env, id, Expired)
	}
}

func (m *Machine) create(c CreateSession, res *Result) Outcome {
	if m.sessions[c.ID] != nil {
		return Outcome{Kind: Rejected, Reject: SessionExists, Session: c.ID}
	}
	s := &session{
		id:           c.ID,
		caps:         m.intern(canonicalCaps(c.Capabilities)),
		createdAt:    m.now,
		lastActivity: m.now,
	}
	m.createSeq++
	s.createSeq = m.createSeq
	m.insert(s)
	mark := len(res.ServerRequests)
	if err := m.app.SessionCreated(&m.env, c.ID, s.caps.pairs); err != nil {
		m.remove(s)
		kept := res.ServerRequests[:mark]
		for _, r := range res.ServerRequests[mark:] {
			if r.Session != c.ID {
				kept = append(kept, r)
			}
		}
		res.ServerRequests = kept
		return Outcome{Kind: Rejected, Reject: InvalidCapabilities, Session: c.ID, Data: appErrorData(err)}
	}
	res.Created = append(res.Created, c.ID)
	return Outcome{Kind: Done, Session: c.ID}
}

// request applies a client command with the exactly-once rules of semantics.md, in their
// order: existence, cache, watermark, run.
func (m *Machine) request(c ClientRequest) Outcome {
	s := m.sessions[c.Session]
	if s == nil {
		return Outcome{Kind: Rejected, Reject: SessionExpired, Session: c.Session, RequestID: c.RequestID}
	}
	m.touch(s)
	out := Outcome{Session: c.Session, RequestID: c.RequestID}
	if i, ok := s.lookupCache(c.RequestID); ok {
		hit := s.cache[i]
		out.Kind, out.Data, out.Cached = Replied, hit.data, true
		if hit.failed {
			out.Kind = AppFailed
		}
	} else if c.RequestID < s.floor || c.RequestID == math.MaxUint64 {
		// MaxUint64 is refused because the watermark could not move past it once it is
		// evicted; wire request ids are int64, so no real client uses it.
		out.Kind, out.Reject = Rejected, ResponseEvicted
	} else {
		reply, err := m.app.Apply(&m.env, c.Session, c.Payload)
		out.Kind, out.Data = Replied, reply
		if err != nil {
			out.Kind, out.Data = AppFailed, appErrorData(err)
		}
		// Evicting below K before caching ends in the same state as caching then evicting
		// (a response below K is not kept either way) and saves moving the cache twice.
		// The application cannot end sessions, so s is still live here.
		s.raiseFloor(c.LowestPending)
		if c.RequestID >= s.floor {
			m.cacheResponse(s, cachedResponse{id: c.RequestID, failed: err != nil, data: out.Data})
		}
		return out
	}
	s.raiseFloor(c.LowestPending)
	return out
}

// redeliver re-sends every unacknowledged server request that is due, sessions in the
// order their queues became non-empty, then by sequence number, and doubles its backoff.
func (m *Machine) redeliver(res *Result) {
	for s := m.queuedHead; s != nil; s = s.queuedNext {
		for i := range s.pending {
			p := &s.pending[i]
			if p.due > m.now {
				continue
			}
			if p.attempts < 1<<32-1 {
				p.attempts++
			}
			p.due = addSat(m.now, m.backoff(p.attempts))
			res.ServerRequests = append(res.ServerRequests, ServerRequest{
				Session: s.id, Seq: p.seq, Payload: p.payload, CreatedAt: p.createdAt, Attempt: p.attempts,
			})
		}
	}
}
