package zmtp

import "fmt"

// RoutingID identifies one connection of a Server. Ids count up from 1 and are never
// reused during a Server's life; they never travel on the wire.
type RoutingID uint64

// EventKind says what an Event reports.
type EventKind uint8

const (
	// EventMessage carries a message from a peer in Data.
	EventMessage EventKind = iota + 1
	// EventOpened (Server): a CLIENT peer completed its handshake under RoutingID.
	EventOpened
	// EventClosed (Server): the connection RoutingID ended, for Reason.
	EventClosed
	// EventUp (Client): a connection to Endpoint is established; Send works.
	EventUp
	// EventDown (Client): the connection to Endpoint ended, for Reason. Messages sent
	// on it may or may not have arrived; the Client reconnects by itself.
	EventDown
	// EventDialFailed (Client): an attempt to connect to Endpoint failed (TCP connect or
	// handshake), for Reason. The Client retries by itself after its backoff; a caller
	// that knows other endpoints may switch at once instead of waiting for a timeout.
	// An attempt abandoned by Connect or Close is not reported.
	EventDialFailed
	// EventTooLarge (Client, with WithSkipTooLarge): a message larger than the maximum
	// message size arrived and was skipped; Data holds its first bytes and Size its
	// length. The connection stays up.
	EventTooLarge
)

func (k EventKind) String() string {
	switch k {
	case EventMessage:
		return "message"
	case EventOpened:
		return "opened"
	case EventClosed:
		return "closed"
	case EventUp:
		return "up"
	case EventDown:
		return "down"
	case EventDialFailed:
		return "dial-failed"
	case EventTooLarge:
		return "too-large"
	}
	return fmt.Sprintf("EventKind(%d)", uint8(k))
}

// Event is what Recv returns. For one connection, events come in order: Opened (Up),
// its messages, then Closed (Down).
type Event struct {
	Kind EventKind
	// RoutingID is the Server's id of the connection (Server events only).
	RoutingID RoutingID
	// Endpoint is the endpoint connected to (Client Up/Down/DialFailed only).
	Endpoint string
	// Data is the message of an EventMessage, or the first bytes of the message an
	// EventTooLarge reports; the receiver owns it.
	Data []byte
	// Size is the whole length of the message an EventTooLarge reports.
	Size uint64
	// Reason is why a connection ended (EventClosed, EventDown) or an attempt failed
	// (EventDialFailed).
	Reason error
}
