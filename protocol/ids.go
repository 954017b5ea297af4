package protocol

// SessionID names a client session. On the wire it is a uint8 length followed by UTF-8,
// so it holds at most 255 bytes (zraft uses 36-character UUID strings).
type SessionID string

// MemberID names a cluster member. On the wire it is a uint16 length followed by UTF-8.
type MemberID string

// RequestID numbers a session's commands, or a session's server-initiated requests.
// Client request ids start at 1 and increase strictly within a session.
type RequestID int64

// Nonce lets a client match a session answer to the request that caused it.
// Zero is not a valid nonce: encoders refuse it and decoders report ErrZeroNonce.
type Nonce int64

// CorrelationID matches a QueryResponse to its Query. On the wire it is a uint16 length
// followed by UTF-8, and it must not be empty.
type CorrelationID string

// Timestamp is a point in time in milliseconds since the Unix epoch (UTC), as carried by
// KeepAlive and by the created-at field of requests. Convert with time.UnixMilli and
// time.Time.UnixMilli; the protocol package itself never reads a clock.
type Timestamp int64

// Capability is one key/value pair a client declares in CreateSession.
type Capability struct {
	Key   string
	Value string
}

// Capabilities is the ordered list of a CreateSession's capabilities. The order is kept
// as received so that re-encoding is byte-identical; it carries no meaning. When a key
// occurs more than once, the last occurrence wins (see Get).
type Capabilities []Capability

// Get returns the value of the last entry whose key is key, and whether there is one.
func (c Capabilities) Get(key string) (string, bool) {
	for i := len(c) - 1; i >= 0; i-- {
		if c[i].Key == key {
			return c[i].Value, true
		}
	}
	return "", false
}

// Map returns the capabilities as a map, applying the last-wins rule for duplicate keys.
func (c Capabilities) Map() map[string]string {
	m := make(map[string]string, len(c))
	for _, kv := range c {
		m[kv.Key] = kv.Value
	}
	return m
}
