package client

import (
	"errors"

	"github.com/zraft/zraft/domain/clientsession"
)

// Errors of this package. Every error a call returns wraps one of them or a context
// error (context.Canceled, context.DeadlineExceeded); test with errors.Is. None of them
// is an application's answer: whatever the application replied, an application error
// included, is a result, returned with a nil error.
var (
	// ErrClosed: the client was closed (Close) before the call was answered, or the call
	// was made after Close.
	ErrClosed = errors.New("client: closed")
	// ErrSessionExpired: the cluster expired the session. Whether a pending command was
	// applied is unknown; it will never be applied later. The client never opens a new
	// session on its own: Dial again.
	ErrSessionExpired = errors.New("client: session expired")
	// ErrResponseEvicted: the command was applied, but its response had left the
	// cluster's response cache when this client asked for it again.
	ErrResponseEvicted = errors.New("client: response evicted")
	// ErrInvalidCapabilities: the cluster refused to create a session with the
	// capabilities given (WithCapability).
	ErrInvalidCapabilities = errors.New("client: capabilities rejected")
	// ErrPayloadTooLarge: the cluster refused the command because of its size.
	ErrPayloadTooLarge = errors.New("client: payload too large")
	// ErrRequestFailed: the cluster answered with an error reason this client does not
	// know; the message names it.
	ErrRequestFailed = errors.New("client: request failed")
	// ErrTooManyPending: too many calls are waiting for an answer (WithMaxPending).
	ErrTooManyPending = errors.New("client: too many pending calls")
	// ErrInvalidRequest: the call cannot be encoded (for example a payload over 2 GiB).
	ErrInvalidRequest = errors.New("client: invalid request")
	// ErrResultTooLarge: the answer is larger than this client accepts
	// (WithMaxMessageSize). A command was applied (once); only its result is lost.
	ErrResultTooLarge = errors.New("client: result too large")
	// ErrInvalidEndpoints: the endpoint list given to Dial cannot be parsed.
	ErrInvalidEndpoints = errors.New("client: invalid endpoints")
	// ErrInvalidOption: an option has a value the client cannot use.
	ErrInvalidOption = errors.New("client: invalid option")
)

// engineErrors maps the engine's outcomes to this package's sentinels.
var engineErrors = []struct{ engine, ours error }{
	{clientsession.ErrClosed, ErrClosed},
	{clientsession.ErrSessionExpired, ErrSessionExpired},
	{clientsession.ErrResponseEvicted, ErrResponseEvicted},
	{clientsession.ErrInvalidCapabilities, ErrInvalidCapabilities},
	{clientsession.ErrPayloadTooLarge, ErrPayloadTooLarge},
	{clientsession.ErrRequestFailed, ErrRequestFailed},
	{clientsession.ErrTooManyPending, ErrTooManyPending},
	{clientsession.ErrInvalidRequest, ErrInvalidRequest},
	{clientsession.ErrResultTooLarge, ErrResultTooLarge},
}

// translated is an engine outcome seen through this package's sentinel: errors.Is finds
// both, and the message keeps the engine's detail (the reason, the protocol error).
type translated struct {
	ours, cause error
}

func (e *translated) Error() string {
	detail := e.cause.Error()
	for _, m := range engineErrors {
		if e.cause == m.engine {
			return e.ours.Error()
		}
	}
	return e.ours.Error() + " (" + detail + ")"
}

func (e *translated) Unwrap() []error { return []error{e.ours, e.cause} }

// translate returns err as this package's error; errors that are not the engine's pass
// through unchanged.
func translate(err error) error {
	if err == nil {
		return nil
	}
	for _, m := range engineErrors {
		if errors.Is(err, m.engine) {
			return &translated{ours: m.ours, cause: err}
		}
	}
	return err
}
