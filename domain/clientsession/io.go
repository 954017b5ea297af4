package clientsession

import "github.com/zraft/zraft/protocol"

// Handle is the shell's token for one caller's Submit or Query. It must be unique among
// the handles the engine has not yet delivered or forgotten (see CancelRequest).
type Handle uint64

// ConnID names one connection the engine asked for with Connect. The engine numbers
// them 1, 2, 3, …; an input about a connection other than the current one is stale.
type ConnID uint64

// Input is something that happened, fed to Engine.Step. It is implemented by Submit,
// Query, CancelRequest, Close, ConnectionUp, ConnectionDown, Received and
// ReceivedTooLarge.
type Input interface{ isInput() }

// Submit is a command to apply exactly once. Its request id is assigned by the engine.
type Submit struct {
	Handle  Handle
	Payload []byte
	// TraceParent and TraceState are W3C trace context, sent only on a connection
	// whose server confirmed the extensions; empty means none.
	TraceParent, TraceState string
}

// Query is a read, matched to its answer by CorrelationID, which the shell draws at
// random and must keep unique among the engine's pending queries.
type Query struct {
	Handle        Handle
	Payload       []byte
	CorrelationID protocol.CorrelationID
	// Consistency asks for a weaker read than the default (linearizable). It is sent
	// only when the server confirmed the extensions; otherwise the server's default,
	// which is stronger, applies. Zero means the default.
	Consistency             protocol.Consistency
	TraceParent, TraceState string
}

// CancelRequest tells the engine that the caller of Handle stopped waiting (its context
// ended). The engine never delivers Handle afterwards. A query is forgotten at once. A
// command stays pending under its request id until the server answers it: it is still
// re-sent on reconnection and keeps the lowest pending id K at or below its id, so it is
// applied exactly once (or reported evicted) like any other, and its answer is dropped.
// Forgetting it earlier would let K pass an id whose fate is unknown.
type CancelRequest struct {
	Handle Handle
}

// Close ends the session for good: CloseSession is sent when a session is connected,
// every pending call gets ErrClosed, and the engine is closed.
type Close struct{}

// ConnectionUp reports that connection Conn is established. Nonce (not zero, drawn at
// random by the shell) is used for this connection's CreateSession or ContinueSession.
type ConnectionUp struct {
	Conn  ConnID
	Nonce protocol.Nonce
}

// ConnectionDown reports that connection Conn failed or was closed by the peer.
type ConnectionDown struct {
	Conn ConnID
}

// Received is one message (one ZeroMQ frame) that arrived on connection Conn.
type Received struct {
	Conn  ConnID
	Bytes []byte
}

// ReceivedTooLarge reports a message on connection Conn that exceeded the maximum
// message size and was skipped: Prefix holds its first bytes (a few hundred suffice)
// and Size its length. When it answers a pending call, that call gets
// ErrResultTooLarge; the connection stays up either way, so the answer is not fetched
// again and again. A Received longer than Config.MaxMessageSize is treated the same.
type ReceivedTooLarge struct {
	Conn   ConnID
	Prefix []byte
	Size   uint64
}

func (Submit) isInput()           {}
func (ReceivedTooLarge) isInput() {}
func (Query) isInput()            {}
func (CancelRequest) isInput()    {}
func (Close) isInput()            {}
func (ConnectionUp) isInput()     {}
func (ConnectionDown) isInput()   {}
func (Received) isInput()         {}

// Output is something the shell must do. It is implemented by Connect, Disconnect,
// Send, Deliver, DeliverServerRequest, Event and Ignored.
type Output interface{ isOutput() }

// Connect asks the shell to open connection Conn to Member at Endpoint.
type Connect struct {
	Conn     ConnID
	Member   protocol.MemberID
	Endpoint string
}

// Disconnect asks the shell to close connection Conn, after sending what was queued
// on it (a CloseSession may precede it).
type Disconnect struct {
	Conn ConnID
}

// Send asks the shell to send Bytes, one encoded client message, on connection Conn.
type Send struct {
	Conn  ConnID
	Bytes []byte
}

// Deliver completes the call of Handle: Result for a command or query answered by the
// cluster (an application error is a result too), or Err, one of ErrSessionExpired,
// ErrResponseEvicted, ErrClosed, ErrInvalidCapabilities, ErrPayloadTooLarge,
// ErrRequestFailed, ErrTooManyPending or ErrInvalidRequest (test with errors.Is).
type Deliver struct {
	Handle Handle
	Result []byte
	Err    error
}

// DeliverServerRequest hands a server-initiated request to the application. They come
// strictly in order, 1, 2, 3, …, each exactly once per session; the engine has already
// acknowledged it to the cluster.
type DeliverServerRequest struct {
	ID                      protocol.RequestID
	Payload                 []byte
	CreatedAt               protocol.Timestamp
	TraceParent, TraceState string
}

// EventKind says what an Event reports.
type EventKind uint8

// Event kinds.
const (
	// EventConnected: a session was created (New) or continued on Member.
	EventConnected EventKind = iota + 1
	// EventReconnecting: the connection or the attempt to Member failed (Reason says
	// why); the engine goes on with another attempt.
	EventReconnecting
	// EventSessionExpired: the cluster expired the session; pending calls failed with
	// ErrSessionExpired and the engine is closed. No new session is opened.
	EventSessionExpired
	// EventClosed: the engine is closed (Err says why: ErrClosed after Close, or
	// ErrInvalidCapabilities when the cluster refused to create the session).
	EventClosed
)

var eventNames = [...]string{EventConnected: "connected", EventReconnecting: "reconnecting",
	EventSessionExpired: "session-expired", EventClosed: "closed"}

// String returns the kind's name.
func (k EventKind) String() string {
	if int(k) < len(eventNames) && eventNames[k] != "" {
		return eventNames[k]
	}
	return "unknown"
}

// Event reports a change the application may want to know about or log.
type Event struct {
	Kind      EventKind
	Member    protocol.MemberID
	SessionID protocol.SessionID
	// New is true for EventConnected when the session was just created.
	New    bool
	Reason string
	Err    error
}

// Ignored reports an input the engine did not act on (a stale connection's message, a
// duplicate response, a server request dropped from a full hold-back queue, …), so the
// shell can log and count it: nothing is dropped silently.
type Ignored struct {
	What string
	Why  string
}

func (Connect) isOutput()              {}
func (Disconnect) isOutput()           {}
func (Send) isOutput()                 {}
func (Deliver) isOutput()              {}
func (DeliverServerRequest) isOutput() {}
func (Event) isOutput()                {}
func (Ignored) isOutput()              {}
