package clientsession

import "errors"

// Outcomes delivered to callers in Deliver.Err and Event.Err.
var (
	// ErrSessionExpired: the cluster expired the session. Whether a pending command was
	// applied is unknown; it will never be applied later.
	ErrSessionExpired = errors.New("clientsession: session expired")
	// ErrResponseEvicted: the command was applied but its cached response is gone.
	ErrResponseEvicted = errors.New("clientsession: response evicted")
	// ErrClosed: the session was closed by Close before an answer came.
	ErrClosed = errors.New("clientsession: closed")
	// ErrInvalidCapabilities: the cluster refused to create a session with these
	// capabilities.
	ErrInvalidCapabilities = errors.New("clientsession: capabilities rejected")
	// ErrPayloadTooLarge: the cluster refused the command because of its size.
	ErrPayloadTooLarge = errors.New("clientsession: payload too large")
	// ErrRequestFailed: the cluster answered the command with an error this package
	// does not know (the reason is in the message).
	ErrRequestFailed = errors.New("clientsession: request failed")
	// ErrTooManyPending: Config.MaxPending calls are already waiting.
	ErrTooManyPending = errors.New("clientsession: too many pending calls")
	// ErrInvalidRequest: the call cannot be encoded (see the wrapped protocol error).
	ErrInvalidRequest = errors.New("clientsession: invalid request")
	// ErrResultTooLarge: the answer exceeds Config.MaxMessageSize. For a command, it was
	// applied (once); only its result cannot be received.
	ErrResultTooLarge = errors.New("clientsession: result too large")
)

// Misuse of the engine, returned by New and Step; the engine's state is unchanged.
var (
	ErrInvalidConfig          = errors.New("clientsession: invalid config")
	ErrDuplicateHandle        = errors.New("clientsession: duplicate handle")
	ErrDuplicateCorrelationID = errors.New("clientsession: duplicate correlation id")
	ErrZeroNonce              = errors.New("clientsession: zero nonce")
	ErrUnknownInput           = errors.New("clientsession: unknown input")
)
