package protocol

import "strconv"

// The reason enums below are single bytes on the wire. A decoder keeps any byte it does
// not know as that numeric value, so an unknown reason re-encodes to the same byte and
// reports itself with Known() == false instead of failing the whole message.
//
// Codes marked "extension" are zraft additions. A server may send them only to a client
// that negotiated extensions (see ExtensionCapabilityKey); a zio-raft v1 client would map
// them to its own "unknown" handling at best. V1() tells the two groups apart.

// RejectionReason is why a SessionRejected refuses a CreateSession or ContinueSession.
type RejectionReason uint8

// RejectionReason codes.
const (
	RejectNotLeader           RejectionReason = 1
	RejectSessionExpired      RejectionReason = 2
	RejectInvalidCapabilities RejectionReason = 3
	RejectOther               RejectionReason = 4
	// RejectSessionLimit (extension): the cluster holds as many sessions as it may.
	RejectSessionLimit RejectionReason = 5
	// RejectOverloaded (extension): the member sheds load; retry later.
	RejectOverloaded RejectionReason = 6
)

var rejectionNames = [...]string{1: "NotLeader", 2: "SessionExpired", 3: "InvalidCapabilities", 4: "Other", 5: "SessionLimit", 6: "Overloaded"}

// Known reports whether r is a code this package defines (v1 or extension).
func (r RejectionReason) Known() bool { return r >= 1 && int(r) < len(rejectionNames) }

// V1 reports whether r is defined by protocol v1, so that any client understands it.
func (r RejectionReason) V1() bool { return r >= 1 && r <= 4 }

// String returns the reason's name, or "Unknown(n)".
func (r RejectionReason) String() string { return enumName(rejectionNames[:], uint8(r)) }

// SessionCloseReason is why a server ends a session or a connection with SessionClosed.
type SessionCloseReason uint8

// SessionCloseReason codes.
const (
	CloseShutdown         SessionCloseReason = 1
	CloseNotLeaderAnymore SessionCloseReason = 2
	CloseSessionError     SessionCloseReason = 3
	CloseConnectionClosed SessionCloseReason = 4
	CloseSessionExpired   SessionCloseReason = 5
)

var sessionCloseNames = [...]string{1: "Shutdown", 2: "NotLeaderAnymore", 3: "SessionError", 4: "ConnectionClosed", 5: "SessionExpired"}

// Known reports whether r is a code this package defines.
func (r SessionCloseReason) Known() bool { return r >= 1 && int(r) < len(sessionCloseNames) }

// V1 reports whether r is defined by protocol v1.
func (r SessionCloseReason) V1() bool { return r >= 1 && r <= 5 }

// String returns the reason's name, or "Unknown(n)".
func (r SessionCloseReason) String() string { return enumName(sessionCloseNames[:], uint8(r)) }

// ClientCloseReason is why a client closes its session with CloseSession.
type ClientCloseReason uint8

// ClientCloseReason codes.
const (
	ClientShutdown ClientCloseReason = 1
)

var clientCloseNames = [...]string{1: "ClientShutdown"}

// Known reports whether r is a code this package defines.
func (r ClientCloseReason) Known() bool { return r >= 1 && int(r) < len(clientCloseNames) }

// V1 reports whether r is defined by protocol v1.
func (r ClientCloseReason) V1() bool { return r == 1 }

// String returns the reason's name, or "Unknown(n)".
func (r ClientCloseReason) String() string { return enumName(clientCloseNames[:], uint8(r)) }

// RequestErrorReason is why a RequestError answers a ClientRequest instead of a result.
type RequestErrorReason uint8

// RequestErrorReason codes.
const (
	// ErrorResponseEvicted: the request's cached response is gone and it will not be re-run.
	ErrorResponseEvicted RequestErrorReason = 1
	// ErrorPayloadTooLarge (extension): the request is larger than the cluster accepts.
	ErrorPayloadTooLarge RequestErrorReason = 2
	// ErrorOverloaded (extension): the member sheds load; retry the same request later.
	ErrorOverloaded RequestErrorReason = 3
)

var requestErrorNames = [...]string{1: "ResponseEvicted", 2: "PayloadTooLarge", 3: "Overloaded"}

// Known reports whether r is a code this package defines (v1 or extension).
func (r RequestErrorReason) Known() bool { return r >= 1 && int(r) < len(requestErrorNames) }

// V1 reports whether r is defined by protocol v1, so that any client understands it.
func (r RequestErrorReason) V1() bool { return r == 1 }

// String returns the reason's name, or "Unknown(n)".
func (r RequestErrorReason) String() string { return enumName(requestErrorNames[:], uint8(r)) }

func enumName(names []string, v uint8) string {
	if int(v) < len(names) && names[v] != "" {
		return names[v]
	}
	return "Unknown(" + strconv.Itoa(int(v)) + ")"
}
