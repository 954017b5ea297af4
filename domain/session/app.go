package session

import "errors"

// Application is a user's replicated state machine, plugged into the Machine. It must be
// deterministic: the same calls in the same order give the same results and state on
// every member (no clock, randomness or map iteration order in anything it returns or
// snapshots). Its methods run on the Machine's caller's goroutine, one at a time.
//
// Byte slices passed in alias the log entry and must not be modified; slices returned are
// retained by the Machine (cached, queued, snapshotted) and must not be modified later.
type Application interface {
	// Apply runs a client's command on behalf of session. A non-nil error is an
	// application error: its bytes (AppError.Data, or err.Error()) are cached and returned
	// like a reply, so the command is never run twice.
	Apply(env *Env, session string, payload []byte) ([]byte, error)
	// ApplyInternal runs one of the application's own commands (Internal), without a
	// session and without deduplication.
	ApplyInternal(env *Env, payload []byte) ([]byte, error)
	// Query answers a read-only query of session. It must not change any state.
	Query(session string, payload []byte) ([]byte, error)
	// SessionCreated is called after a session was added; returning an error refuses it
	// (the session is removed again, with any server request addressed to it here, and
	// the client gets InvalidCapabilities). caps is sorted by key, one entry per key; do
	// not modify it.
	SessionCreated(env *Env, session string, caps []Capability) error
	// SessionEnded is called after a session expired or was closed and is gone.
	SessionEnded(env *Env, session string, reason EndReason)
	// AppendSnapshot appends a deterministic encoding of the application's state to dst.
	AppendSnapshot(dst []byte) []byte
	// Restore replaces the application's state with one produced by AppendSnapshot.
	Restore(b []byte) error
}

// EndReason says why a session ended.
type EndReason uint8

// End reasons.
const (
	// Expired: log time passed the session's last activity plus the session timeout.
	Expired EndReason = iota + 1
	// Closed: the client closed its session.
	Closed
)

func (r EndReason) String() string {
	switch r {
	case Expired:
		return "expired"
	case Closed:
		return "closed"
	}
	return "unknown-end-reason"
}

// AppError is an application error with binary data: Apply may return one to choose the
// exact bytes the client receives.
type AppError struct {
	Data []byte
}

func (e *AppError) Error() string { return "session: application error: " + string(e.Data) }

// appErrorData is the cached and returned form of an application error.
func appErrorData(err error) []byte {
	var ae *AppError
	if errors.As(err, &ae) {
		return ae.Data
	}
	return []byte(err.Error())
}

// Errors returned by Env.Send.
var (
	// ErrUnknownSession: the target session does not exist.
	ErrUnknownSession = errors.New("session: unknown session")
	// ErrQueueFull: the target session already has Config.MaxPendingRequests
	// unacknowledged server requests.
	ErrQueueFull = errors.New("session: server request queue full")
)

// Env is what an Application may do while the Machine applies a command: read log time,
// send server requests and find sessions. It is valid only during the call it is passed
// to.
type Env struct {
	m   *Machine
	res *Result
}

// Now is the log time in milliseconds: the highest leader stamp applied so far.
func (e *Env) Now() int64 { return e.m.now }

// Index is the log index being applied.
func (e *Env) Index() uint64 { return e.m.lastIndex }

// Send queues a server request to session and returns its sequence number. It fails with
// ErrUnknownSession or ErrQueueFull (the session has too many unacknowledged requests);
// nothing is queued then.
func (e *Env) Send(session string, payload []byte) (uint64, error) {
	s := e.m.sessions[session]
	if s == nil {
		return 0, ErrUnknownSession
	}
	if len(s.pending) >= e.m.cfg.MaxPendingRequests {
		return 0, ErrQueueFull
	}
	s.nextSeq++
	now := e.m.now
	if len(s.pending) == 0 {
		e.m.enqueue(s)
	}
	s.pending = append(s.pending, pendingRequest{
		seq:       s.nextSeq,
		createdAt: now,
		due:       addSat(now, e.m.backoff(0)),
		payload:   payload,
	})
	e.res.ServerRequests = append(e.res.ServerRequests, ServerRequest{
		Session: session, Seq: s.nextSeq, Payload: payload, CreatedAt: now,
	})
	return s.nextSeq, nil
}

// Capabilities returns a live session's capabilities, sorted by key; do not modify them.
func (e *Env) Capabilities(session string) ([]Capability, bool) {
	s := e.m.sessions[session]
	if s == nil {
		return nil, false
	}
	return s.caps.pairs, true
}

// SessionsWithCapability returns the live sessions holding key=value, in a fair rotation:
// the list starts one session further on each call (the rotation point is replicated
// state, in the snapshot). Use it to spread pushed work across workers.
func (e *Env) SessionsWithCapability(key, value string) []string {
	g := e.m.groups[Capability{key, value}]
	if g == nil {
		return nil
	}
	first := g.pick()
	out := make([]string, 0, g.n)
	for mb := first; mb != nil; mb = mb.next {
		out = append(out, mb.s.id)
	}
	for mb := g.head; mb != first; mb = mb.next {
		out = append(out, mb.s.id)
	}
	return out
}

// NextWithCapability returns the next live session holding key=value in the same fair
// rotation as SessionsWithCapability, without listing them all.
func (e *Env) NextWithCapability(key, value string) (string, bool) {
	g := e.m.groups[Capability{key, value}]
	if g == nil {
		return "", false
	}
	return g.pick().s.id, true
}
