package clientsession

import (
	"fmt"

	"github.com/zraft/zraft/protocol"
)

// State is the engine's session state.
type State uint8

// States. The engine starts in StateConnectingNew and never returns to it: once a session
// exists, losing it ends the engine (StateClosed) rather than opening another.
const (
	// StateConnectingNew: no session yet; attempts send CreateSession.
	StateConnectingNew State = iota + 1
	// StateConnectingExisting: a session exists but no connection carries it; attempts
	// send ContinueSession.
	StateConnectingExisting
	// StateConnected: a connection carries the session.
	StateConnected
	// StateClosed: closed, expired or refused; terminal.
	StateClosed
)

var stateNames = [...]string{StateConnectingNew: "connecting-new", StateConnectingExisting: "connecting-existing",
	StateConnected: "connected", StateClosed: "closed"}

// String returns the state's name.
func (s State) String() string {
	if int(s) < len(stateNames) && stateNames[s] != "" {
		return stateNames[s]
	}
	return "unknown"
}

// Engine is the client-side session engine. It is not safe for concurrent use: one
// goroutine (the shell's) calls it.
type Engine struct {
	cfg   Config
	now   int64
	state State
	// terminal is the error every call gets once the engine is closed.
	terminal error
	session  protocol.SessionID

	link  link
	calls calls
	srv   serverRequests

	out []Output
}

// New returns an engine in StateConnectingNew. Its first Step or Tick asks for a
// connection to the first member.
func New(cfg Config) (*Engine, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	e := &Engine{cfg: cfg, state: StateConnectingNew}
	e.link.members = append([]protocol.Member(nil), cfg.Members...)
	e.link.rng = cfg.Seed
	e.calls.init()
	return e, nil
}

// Step feeds one input that happened at now (Unix milliseconds; a now earlier than one
// seen before counts as that one) and returns the outputs to perform, timers due at now
// included. An error means misuse (see ErrDuplicateHandle and the other misuse errors):
// the input was refused and nothing changed.
func (e *Engine) Step(now int64, in Input) ([]Output, error) {
	if err := e.check(in); err != nil {
		return nil, err
	}
	e.now = max(e.now, now)
	switch in := in.(type) {
	case Submit:
		e.submit(in)
	case Query:
		e.query(in)
	case CancelRequest:
		e.cancel(in.Handle)
	case Close:
		e.close()
	case ConnectionUp:
		e.connectionUp(in)
	case ConnectionDown:
		e.connectionDown(in)
	case Received:
		e.received(in)
	case ReceivedTooLarge:
		e.tooLarge(in)
	}
	e.timers()
	return e.flush(), nil
}

// Tick advances time to now and returns the outputs of the timers due: connection
// attempts, attempt timeouts, keep-alives, keep-alive timeouts and resends.
func (e *Engine) Tick(now int64) []Output {
	e.now = max(e.now, now)
	e.timers()
	return e.flush()
}

// check refuses misuse before anything changes.
func (e *Engine) check(in Input) error {
	switch in := in.(type) {
	case Submit:
		if e.calls.has(in.Handle) {
			return fmt.Errorf("%w: %d", ErrDuplicateHandle, in.Handle)
		}
	case Query:
		if e.calls.has(in.Handle) {
			return fmt.Errorf("%w: %d", ErrDuplicateHandle, in.Handle)
		}
		if e.calls.hasCorrelation(in.CorrelationID) {
			return fmt.Errorf("%w: %q", ErrDuplicateCorrelationID, in.CorrelationID)
		}
	case ConnectionUp:
		if in.Nonce == 0 {
			return ErrZeroNonce
		}
	case CancelRequest, Close, ConnectionDown, Received, ReceivedTooLarge:
	default:
		return fmt.Errorf("%w: %T", ErrUnknownInput, in)
	}
	return nil
}

func (e *Engine) flush() []Output {
	out := e.out
	e.out = nil
	return out
}

func (e *Engine) emit(o Output) { e.out = append(e.out, o) }

func (e *Engine) ignore(what, why string) { e.emit(Ignored{What: what, Why: why}) }

// State returns the engine's state.
func (e *Engine) State() State { return e.state }

// NextRequestID is the id the next admitted command gets (Status.NextRequestID, without
// the snapshot's copying).
func (e *Engine) NextRequestID() protocol.RequestID { return e.calls.nextID }

// Status is a snapshot of the engine for metrics and debugging.
type Status struct {
	State     State
	SessionID protocol.SessionID
	// Member is the member of the current connection or attempt ("" when none).
	Member protocol.MemberID
	// Conn is the current connection (0 when none).
	Conn ConnID
	// ExtensionVersion is the version the server confirmed on this connection, or 0.
	ExtensionVersion uint8
	// NextRequestID is the id the next command gets; LowestPending is K (NextRequestID
	// when nothing is pending).
	NextRequestID, LowestPending protocol.RequestID
	// Pending counts commands waiting for an answer, Cancelled how many of those
	// nobody waits for, Queries the pending queries.
	Pending, Cancelled, Queries int
	// LastServerRequest is the last server request delivered; Held counts those held
	// back behind a gap.
	LastServerRequest protocol.RequestID
	Held              int
	// Failures counts failed attempts since the last success.
	Failures int
	Members  []protocol.Member
}

// Status returns a snapshot of the engine.
func (e *Engine) Status() Status {
	s := Status{
		State: e.state, SessionID: e.session, ExtensionVersion: e.link.ext,
		NextRequestID: e.calls.nextID, LowestPending: e.calls.lowestPending(),
		Pending: len(e.calls.reqs), Queries: len(e.calls.queries),
		LastServerRequest: e.srv.last, Held: len(e.srv.held), Failures: e.link.failures,
		Members: append([]protocol.Member(nil), e.link.members...),
	}
	for _, r := range e.calls.reqs {
		if r.cancelled {
			s.Cancelled++
		}
	}
	if e.link.phase != phaseIdle {
		s.Conn = e.link.conn
		s.Member = e.link.members[e.link.target].ID
	}
	return s
}

// NextDeadline returns the time at which Tick has something to do at the latest, and
// false when no timer is armed (a closed engine).
func (e *Engine) NextDeadline() (int64, bool) {
	if e.state == StateClosed {
		return 0, false
	}
	l := &e.link
	switch l.phase {
	case phaseIdle:
		return l.retryAt, true
	case phaseDialing, phaseHandshake:
		return l.deadline, true
	}
	d := min(l.nextKeepAlive, l.lastHeard+e.cfg.KeepAliveTimeout)
	if t, ok := e.calls.nextResend(e.cfg.ResendInterval); ok {
		d = min(d, t)
	}
	return d, true
}

// finish closes the engine: every pending call gets err, the connection is released,
// and the event is emitted. Cancelled commands are dropped without a delivery.
func (e *Engine) finish(err error, ev Event) {
	e.link.release(e)
	e.calls.failAll(e, err)
	e.srv.reset()
	e.state = StateClosed
	e.terminal = err
	ev.SessionID = e.session
	ev.Err = err
	e.emit(ev)
}

func (e *Engine) close() {
	if e.state == StateClosed {
		e.ignore("Close", "already closed")
		return
	}
	if e.state == StateConnected {
		e.send(&protocol.CloseSession{Reason: protocol.ClientShutdown})
	}
	e.finish(ErrClosed, Event{Kind: EventClosed, Reason: "closed by the application"})
}

func (e *Engine) expire(why string) {
	e.finish(ErrSessionExpired, Event{Kind: EventSessionExpired, Reason: why})
}

// send encodes m for the current connection. The messages the engine builds are valid
// by construction (calls are encoded once when they come in), so failing here is a bug.
func (e *Engine) send(m protocol.ClientMessage) {
	// Room for the header, the fixed fields and a trace context, plus the payload: one
	// allocation per message instead of a few as append grows the buffer.
	size := 128
	switch m := m.(type) {
	case *protocol.ClientRequest:
		size += len(m.Payload)
	case *protocol.Query:
		size += len(m.Payload)
	}
	b, err := protocol.AppendClientMessage(make([]byte, 0, size), m)
	if err != nil {
		panic(fmt.Sprintf("clientsession: encoding %T: %v", m, err))
	}
	e.emit(Send{Conn: e.link.conn, Bytes: b})
}
