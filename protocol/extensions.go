package protocol

import "strconv"

// ExtensionVersion is the highest extension-block version this package speaks.
const ExtensionVersion uint8 = 1

// ExtensionCapabilityKey is the capability a client puts in CreateSession to declare that
// it understands extension blocks; its value is the highest block version it speaks, in
// decimal ("1"). The key is reserved: applications must not use it for their own purposes.
const ExtensionCapabilityKey = "zraft.ext"

// Negotiation, in short (docs/protocol.md has the details):
//   - A client that speaks extensions adds ExtensionCapabilityKey to CreateSession.
//   - A server sends extension blocks only on sessions whose capabilities declare it
//     (see NegotiateExtensions), and confirms the agreed version in an extension block on
//     SessionCreated and on every SessionContinued (Extensions.Version).
//   - A client sends extension blocks only after such a confirmation on its current
//     session; CreateSession and ContinueSession never carry one.
//   - Reason codes whose V1() is false are sent only on sessions that negotiated.

// ClientSupportsExtensions returns the extension version a client declared in its
// CreateSession capabilities (last occurrence of ExtensionCapabilityKey wins), and
// whether it declared a usable one (a decimal number from 1 to 255).
func ClientSupportsExtensions(caps Capabilities) (uint8, bool) {
	v, ok := caps.Get(ExtensionCapabilityKey)
	if !ok {
		return 0, false
	}
	n, err := strconv.ParseUint(v, 10, 8)
	if err != nil || n == 0 {
		return 0, false
	}
	return uint8(n), true
}

// NegotiateExtensions returns the extension version a server speaking up to serverMax
// uses on a session with capabilities caps: the lower of the two, or 0 (no extension
// blocks at all) when the client did not declare support or serverMax is 0.
func NegotiateExtensions(caps Capabilities, serverMax uint8) uint8 {
	v, ok := ClientSupportsExtensions(caps)
	if !ok || serverMax == 0 {
		return 0
	}
	return min(v, serverMax)
}

// ConfirmedExtensions returns the extension version a server confirmed with m, and
// whether m confirms one: only a SessionCreated or SessionContinued whose extension block
// holds a version entry does. A client sends extension blocks on the session only after
// such a confirmation, and falls back to plain v1 after a SessionContinued without one.
func ConfirmedExtensions(m ServerMessage) (uint8, bool) {
	var e *Extensions
	switch v := m.(type) {
	case *SessionCreated:
		if v != nil {
			e = v.Ext
		}
	case *SessionContinued:
		if v != nil {
			e = v.Ext
		}
	}
	if e == nil || e.Version == 0 {
		return 0, false
	}
	return e.Version, true
}

// WithExtensionCapability returns caps with the extension capability set to
// ExtensionVersion, replacing any earlier value; it does not modify caps.
func WithExtensionCapability(caps Capabilities) Capabilities {
	out := make(Capabilities, 0, len(caps)+1)
	for _, c := range caps {
		if c.Key != ExtensionCapabilityKey {
			out = append(out, c)
		}
	}
	return append(out, Capability{Key: ExtensionCapabilityKey, Value: strconv.Itoa(int(ExtensionVersion))})
}

// Extensions is the content of a zraft extension block, which may follow the last v1
// field of any message. Zero fields are absent from the block. Which entries make sense
// where: Version on SessionCreated/SessionContinued; TraceParent/TraceState on
// ClientRequest, Query and ServerRequest; Members on SessionCreated, SessionContinued,
// SessionRejected and SessionClosed; Consistency on Query. The codec does not enforce the
// placement, so that a later version can add entries to more messages.
type Extensions struct {
	// Version is the negotiated extension version, confirmed by the server.
	Version uint8
	// TraceParent is the W3C trace-context traceparent header value.
	TraceParent string
	// TraceState is the W3C trace-context tracestate header value.
	TraceState string
	// Members lists the cluster's members and the endpoints clients reach them at.
	// A present entry holds at least one member; nil or empty means absent.
	Members []Member
	// Consistency is the read-consistency level a Query asks for; zero means absent
	// (the server's default, linearizable).
	Consistency Consistency
	// Unknown holds the entries this package does not know, in the order received, so
	// that a message re-encodes with them. Their Value aliases the decoder's input.
	Unknown []RawExtension
}

// Member is one cluster member with the endpoint clients connect to (e.g. "tcp://10.0.0.1:7001").
type Member struct {
	ID       MemberID
	Endpoint string
}

// RawExtension is an extension entry of a type this package does not know.
type RawExtension struct {
	Type  uint16
	Value []byte
}

// Extension entry types. Types 0x8000 and above are reserved for private use.
const (
	ExtTypeVersion     uint16 = 1
	ExtTypeTraceParent uint16 = 2
	ExtTypeTraceState  uint16 = 3
	ExtTypeMembers     uint16 = 4
	ExtTypeConsistency uint16 = 5
)

// Consistency is the read-consistency level of a Query.
type Consistency uint8

// Consistency levels. An unknown level decodes as its number and reports Known() false.
const (
	// ConsistencyLinearizable: the leader confirms its leadership with a quorum after
	// the query arrived and reads state that includes every committed entry.
	ConsistencyLinearizable Consistency = 1
	// ConsistencyLease: the leader reads its local state while its lease holds.
	ConsistencyLease Consistency = 2
	// ConsistencyStale: any member reads its local state, which may lag.
	ConsistencyStale Consistency = 3
)

var consistencyNames = [...]string{1: "Linearizable", 2: "Lease", 3: "Stale"}

// Known reports whether c is a level this package defines.
func (c Consistency) Known() bool { return c >= 1 && int(c) < len(consistencyNames) }

// String returns the level's name, or "Unknown(n)".
func (c Consistency) String() string { return enumName(consistencyNames[:], uint8(c)) }

// IsZero reports whether e carries nothing (a nil e too).
func (e *Extensions) IsZero() bool {
	return e == nil || (e.Version == 0 && e.TraceParent == "" && e.TraceState == "" &&
		len(e.Members) == 0 && e.Consistency == 0 && len(e.Unknown) == 0)
}
