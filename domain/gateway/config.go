package gateway

import (
	"errors"
	"fmt"

	"github.com/zraft/zraft/domain/session"
)

// Errors for misuse of a Gateway. The gateway's state stays consistent after each.
var (
	// ErrInvalidConfig is wrapped by Config.Validate for every rejected field.
	ErrInvalidConfig = errors.New("gateway: invalid config")
	// ErrUnknownInput: Step was given a nil or foreign Input.
	ErrUnknownInput = errors.New("gateway: unknown input")
	// ErrNoSessionID: a CreateSession arrived at the leader without Message.NewSessionID
	// (or with one already in use). The client was answered SessionRejected(Other).
	ErrNoSessionID = errors.New("gateway: missing or reused session id")
	// ErrNoCommand: Applied or ProposalFailed without its Command.
	ErrNoCommand = errors.New("gateway: input without command")
)

// SessionView is the gateway's read-only window on the replicated state; *session.Machine
// implements it. The caller serialises these calls with the machine's Apply (they run
// inside Step and Tick).
type SessionView interface {
	// Session describes a live session.
	Session(id string) (session.Info, bool)
	// PendingServerRequests returns a session's unacknowledged server requests in
	// sequence order (re-sent when the session is continued).
	PendingServerRequests(id string) []session.ServerRequest
	// Len is the number of live sessions (no Redelivery entry is proposed without any).
	Len() int
}

// Defaults for zero Config fields, in milliseconds.
const (
	DefaultFlushInterval      int64 = 1_000
	DefaultRedeliveryInterval int64 = 1_000
	DefaultMaxInFlight              = 1024
)

// Config configures a Gateway.
type Config struct {
	// View reads the replicated state. Required.
	View SessionView
	// FlushInterval is how often, in milliseconds, the sessions' activity and
	// acknowledgements are proposed as one batched log entry. Keep it well below the
	// session timeout. Default 1 s.
	FlushInterval int64
	// RedeliveryInterval is how often, in milliseconds, a Redelivery command is proposed
	// so that unacknowledged server requests are re-sent (the machine decides which are
	// due) and expiry is decided even when the cluster is idle. Default 1 s.
	RedeliveryInterval int64
	// DisableExtensions turns off zraft's extension blocks: every reply is then a plain
	// protocol v1 message, whatever the client declared.
	DisableExtensions bool
	// MaxInFlight bounds the client requests and queries of one session that wait for
	// the log or a read. Past it a request of a client that negotiated extensions gets
	// RequestError(Overloaded); otherwise (v1 has no such answer, and queries have none)
	// the connection is closed, and the client re-sends after it continues. Default 1024.
	MaxInFlight int
	// MaxMessageSize bounds the client messages accepted; zero means
	// protocol.DefaultMaxMessageSize.
	MaxMessageSize int
}

// WithDefaults returns c with zero fields set to their defaults.
func (c Config) WithDefaults() Config {
	if c.FlushInterval == 0 {
		c.FlushInterval = DefaultFlushInterval
	}
	if c.RedeliveryInterval == 0 {
		c.RedeliveryInterval = DefaultRedeliveryInterval
	}
	if c.MaxInFlight == 0 {
		c.MaxInFlight = DefaultMaxInFlight
	}
	return c
}

// Validate reports the first invalid field, wrapping ErrInvalidConfig.
func (c Config) Validate() error {
	switch {
	case c.View == nil:
		return fmt.Errorf("%w: View is required", ErrInvalidConfig)
	case c.FlushInterval <= 0:
		return fmt.Errorf("%w: FlushInterval %d must be positive", ErrInvalidConfig, c.FlushInterval)
	case c.RedeliveryInterval <= 0:
		return fmt.Errorf("%w: RedeliveryInterval %d must be positive", ErrInvalidConfig, c.RedeliveryInterval)
	case c.MaxInFlight < 0:
		return fmt.Errorf("%w: MaxInFlight %d must not be negative", ErrInvalidConfig, c.MaxInFlight)
	case c.MaxMessageSize < 0:
		return fmt.Errorf("%w: MaxMessageSize %d must not be negative", ErrInvalidConfig, c.MaxMessageSize)
	}
	return nil
}

// Stats counts what the gateway did that its outputs do not show, and the size of its
// state. Counters only grow.
type Stats struct {
	// Malformed counts messages that did not decode (or broke a protocol rule) and closed
	// their connection.
	Malformed uint64
	// Ignored counts messages from connections the gateway already closed.
	Ignored uint64
	// Unrouted counts replies and server requests with no connection to go to (the client
	// gets them by retrying or continuing its session).
	Unrouted uint64
	// Overloaded counts requests and queries refused because their session had
	// MaxInFlight of them in flight.
	Overloaded uint64
	// ProposalsFailed and ReadsFailed count ProposalFailed and ReadFailed inputs.
	ProposalsFailed uint64
	ReadsFailed     uint64
	// Connections, Sessions, Creations, Requests and Reads are the current numbers of
	// known connections, sessions bound to a connection, creations, client requests and
	// queries waiting for the log or a read.
	Connections, Sessions, Creations, Requests, Reads int
}
