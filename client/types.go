package client

import (
	"time"

	"github.com/zraft/zraft/domain/clientsession"
)

// ServerRequest is work the cluster addressed to this session (for the key-value
// application: a change of a watched key). The client receives them in the cluster's
// order, 1, 2, 3, …, each exactly once per session, and acknowledges each when it is put
// into the ServerRequests channel.
type ServerRequest struct {
	// ID is the request's number in this session, from 1 without gaps.
	ID int64
	// Payload is the application's request; it belongs to the receiver.
	Payload []byte
	// CreatedAt is when the cluster created the request (the leader's log time).
	CreatedAt time.Time
	// TraceParent and TraceState are the W3C trace context the cluster attached, if
	// any (only on a session with extensions). With WithTracerProvider they are those of
	// the client's "zraft.client.server_request" span, the child of the cluster's: start
	// the application's span from them to continue the trace.
	TraceParent, TraceState string
}

// EventKind says what an Event reports.
type EventKind uint8

// Event kinds.
const (
	// EventConnected: the session was created (Event.New) or continued on Member.
	EventConnected EventKind = iota + 1
	// EventReconnecting: the connection to Member, or the attempt, failed (Reason says
	// why); the client continues the session on another connection. Calls wait.
	EventReconnecting
	// EventSessionExpired: the cluster expired the session. Every pending and later call
	// fails with ErrSessionExpired; no new session is opened.
	EventSessionExpired
	// EventClosed: the session ended: Close was called (Err is ErrClosed), or the
	// cluster refused to create it (ErrInvalidCapabilities).
	EventClosed
)

// String returns the kind's name ("connected", "reconnecting", "session-expired",
// "closed").
func (k EventKind) String() string { return clientsession.EventKind(k).String() }

// Event reports a change of the client's connection or session.
type Event struct {
	Kind EventKind
	// Member is the member connected to, or the one that failed.
	Member string
	// SessionID is the session's id ("" before it was created).
	SessionID string
	// New is true for EventConnected when the session was just created.
	New bool
	// Reason says why, in words.
	Reason string
	// Err is the error calls get, for EventSessionExpired and EventClosed.
	Err error
	// At is when the client saw the change.
	At time.Time
}

// Status is a snapshot of the client (see Client.Status).
type Status struct {
	// State is "connecting-new", "connecting-existing", "connected" or "closed".
	State string
	// Connected reports whether a connection currently carries the session; Member is
	// then the member it is connected to, which is the cluster's leader (only the
	// leader serves sessions). While connecting, Member is the one being tried.
	Connected bool
	Member    string
	SessionID string
	// Extensions is the extension version the connected member confirmed (0: plain v1).
	Extensions uint8
	// Members is the member list, including members the cluster announced.
	Members []Member
	// Pending counts commands waiting for an answer, Queries the queries.
	Pending, Queries int
	// LastServerRequest is the id of the last server request received.
	LastServerRequest int64
	// ServerRequestsDeferred counts server requests the client did not take (and so did
	// not acknowledge) because the application was not reading ServerRequests; the
	// cluster redelivers them.
	ServerRequestsDeferred uint64
	// EventsDropped counts events that did not fit the Events channel.
	EventsDropped uint64
	// Ignored counts messages and inputs the session engine did not act on (late
	// duplicates, stale connections, …); they are logged at Debug.
	Ignored uint64
}
