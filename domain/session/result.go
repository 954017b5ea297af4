package session

// Kind says what happened to one command.
type Kind uint8

// Outcome kinds.
const (
	// Done: the command was applied and has no reply (Touch, Acks, CloseSession,
	// LeaderStarted, Redelivery, and a successful CreateSession).
	Done Kind = iota + 1
	// Replied: the application produced reply bytes (Outcome.Data).
	Replied
	// AppFailed: the application returned an error; Outcome.Data holds its bytes. It is
	// cached like a reply: a retry gets the same error, never a re-execution.
	AppFailed
	// Rejected: the command was not applied; Outcome.Reject says why.
	Rejected
)

// Rejection is a business reason a command was not applied.
type Rejection uint8

// Rejections.
const (
	// NotRejected is the zero value, on every outcome that is not Rejected.
	NotRejected Rejection = iota
	// SessionExpired: the session does not exist (never created, expired or closed).
	SessionExpired
	// ResponseEvicted: the request id is below the session's watermark (the client's
	// lowest pending id, or a response evicted by the cache bound) and is not cached; it
	// was possibly applied before and is never applied again.
	ResponseEvicted
	// InvalidCapabilities: the application refused the new session.
	InvalidCapabilities
	// SessionExists: CreateSession named an id that is already live.
	SessionExists
)

func (k Kind) String() string {
	switch k {
	case Done:
		return "done"
	case Replied:
		return "replied"
	case AppFailed:
		return "app-failed"
	case Rejected:
		return "rejected"
	}
	return "unknown-kind"
}

func (r Rejection) String() string {
	switch r {
	case NotRejected:
		return "none"
	case SessionExpired:
		return "session-expired"
	case ResponseEvicted:
		return "response-evicted"
	case InvalidCapabilities:
		return "invalid-capabilities"
	case SessionExists:
		return "session-exists"
	}
	return "unknown-rejection"
}

// Outcome is the result of one command.
type Outcome struct {
	Kind   Kind
	Reject Rejection
	// Session and RequestID identify the command's session and request, where it has them.
	Session   string
	RequestID uint64
	// Data is the reply (Replied) or the application error bytes (AppFailed, and
	// InvalidCapabilities when the application gave a reason). It is shared with the
	// response cache: do not modify it.
	Data []byte
	// Cached is true when Data came from the response cache (a duplicate).
	Cached bool
	// Missing lists, for Touch and Acks, the sessions that did not exist.
	Missing []string
}

// ServerRequest is a server-initiated request to send to a session's client.
type ServerRequest struct {
	Session string
	// Seq numbers the session's server requests from 1.
	Seq     uint64
	Payload []byte
	// CreatedAt is the log time the request was created at.
	CreatedAt int64
	// Attempt is 0 for the first send, n for the n-th redelivery.
	Attempt uint32
}

// Result is everything one applied log entry produced. It is freshly allocated and owned
// by the caller, except byte slices shared with the state (do not modify them).
type Result struct {
	// Index is the log index applied; Now the log time after it.
	Index uint64
	Now   int64
	// Outcomes holds one outcome per command, in order (a Batch yields one per element).
	Outcomes []Outcome
	// Created, Expired and Closed list sessions that came and went, in the order it
	// happened. Expired sessions are ordered oldest activity first.
	Created []string
	Expired []string
	Closed  []string
	// ServerRequests are the requests to send now: new ones (Attempt 0) and redeliveries.
	ServerRequests []ServerRequest
}
