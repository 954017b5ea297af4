package protocol

import (
	"errors"
	"strconv"
)

// Sentinel errors. Decoders return them wrapped in a *DecodeError, encoders in an
// *EncodeError; test with errors.Is.
var (
	ErrTruncated          = errors.New("protocol: truncated message")
	ErrBadSignature       = errors.New("protocol: bad signature")
	ErrUnsupportedVersion = errors.New("protocol: unsupported version")
	ErrUnknownCode        = errors.New("protocol: unknown message code")
	ErrInvalidLength      = errors.New("protocol: invalid length")
	ErrTooLarge           = errors.New("protocol: message too large")
	ErrZeroNonce          = errors.New("protocol: zero nonce")
	ErrEmptyCapabilities  = errors.New("protocol: empty capabilities")
	ErrEmptyCorrelationID = errors.New("protocol: empty correlation id")
	ErrInvalidUTF8        = errors.New("protocol: invalid UTF-8")
	ErrNonZeroPadding     = errors.New("protocol: non-zero padding bits")
	// ErrTrailingBytes: bytes follow the last field and they are not an extension block.
	ErrTrailingBytes = errors.New("protocol: trailing bytes")
	// ErrBadExtension: an extension block or entry is malformed.
	ErrBadExtension = errors.New("protocol: malformed extension")
	// ErrDuplicateExtension: an extension block holds the same known entry twice.
	ErrDuplicateExtension = errors.New("protocol: duplicate extension entry")
	// ErrInvalidValue: a field holds a value the protocol does not allow (for example a
	// zero read-consistency level, or an unknown entry that reuses a known type).
	ErrInvalidValue = errors.New("protocol: invalid value")
	// ErrNilMessage: an encoder was given a nil message.
	ErrNilMessage = errors.New("protocol: nil message")
)

// DecodeError reports input a decoder refused: which message, which field, at which
// byte offset, and why (Err is one of the sentinel errors).
type DecodeError struct {
	// Message is the message (or payload) being decoded, e.g. "ClientRequest", or
	// "header" when the code is not known yet.
	Message string
	// Field names the offending field, e.g. "payload.length" or "leader.padding".
	Field string
	// Offset is the byte offset in the input where the field starts.
	Offset int
	// Err is the sentinel error.
	Err error
}

// Error implements error.
func (e *DecodeError) Error() string {
	return "decode " + e.Message + "." + e.Field + " at byte " + strconv.Itoa(e.Offset) + ": " + e.Err.Error()
}

// Unwrap returns the sentinel error.
func (e *DecodeError) Unwrap() error { return e.Err }

// EncodeError reports a value an encoder refused to put on the wire.
type EncodeError struct {
	// Message is the message (or payload) being encoded, e.g. "CreateSession".
	Message string
	// Field names the offending field.
	Field string
	// Err is the sentinel error.
	Err error
}

// Error implements error.
func (e *EncodeError) Error() string {
	return "encode " + e.Message + "." + e.Field + ": " + e.Err.Error()
}

// Unwrap returns the sentinel error.
func (e *EncodeError) Unwrap() error { return e.Err }
