package zmtp

import "errors"

// Sentinel errors. Errors returned by this package wrap one of these (test them with
// errors.Is); the Reason of a Closed or Down event is one of them too, possibly wrapped.
var (
	// ErrClosed: the Server or Client was closed.
	ErrClosed = errors.New("zmtp: closed")
	// ErrUnknownPeer: no open connection has that routing id.
	ErrUnknownPeer = errors.New("zmtp: unknown peer")
	// ErrOverflow: a connection's bounded send queue was full; the connection was closed.
	ErrOverflow = errors.New("zmtp: send queue overflow")
	// ErrTooLarge: a message exceeds the maximum message size.
	ErrTooLarge = errors.New("zmtp: message too large")
	// ErrMultipart: the peer sent a multipart message, which CLIENT/SERVER forbid.
	ErrMultipart = errors.New("zmtp: multipart message")
	// ErrProtocol: the peer broke ZMTP (bad greeting, bad frame, bad command).
	ErrProtocol = errors.New("zmtp: protocol error")
	// ErrSocketType: the peer announced a socket type we do not accept.
	ErrSocketType = errors.New("zmtp: incompatible socket type")
	// ErrHandshakeTimeout: the peer did not finish the handshake in time.
	ErrHandshakeTimeout = errors.New("zmtp: handshake timeout")
	// ErrHeartbeatTimeout: nothing was received from the peer within the heartbeat timeout.
	ErrHeartbeatTimeout = errors.New("zmtp: heartbeat timeout")
	// ErrDisconnected: the connection was closed by Disconnect or by switching endpoint.
	ErrDisconnected = errors.New("zmtp: disconnected")
	// ErrNotConnected: the Client has no connection up to send on.
	ErrNotConnected = errors.New("zmtp: not connected")
	// ErrPeerError: the peer sent a ZMTP ERROR command.
	ErrPeerError = errors.New("zmtp: peer sent ERROR")
	// ErrEndpoint: the endpoint is not of the form tcp://host:port.
	ErrEndpoint = errors.New("zmtp: invalid endpoint")
)
