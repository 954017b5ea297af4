package session

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// CommandFormatVersion is the first byte of every encoded log entry.
const CommandFormatVersion = 1

// ErrMalformed is wrapped by every decoding failure of a log entry or a snapshot.
var ErrMalformed = errors.New("session: malformed encoding")

// EncodeCommand appends the log-entry encoding of cmd to dst (format in docs/session.md).
// It fails with ErrInvalidCommand for a nil command or a bad Batch, like Apply.
func EncodeCommand(dst []byte, cmd Command) ([]byte, error) {
	if err := validate(cmd); err != nil {
		return dst, err
	}
	dst = append(dst, CommandFormatVersion)
	return appendCommand(dst, cmd), nil
}

func appendCommand(b []byte, cmd Command) []byte {
	b = append(b, byte(cmd.kind()))
	switch c := cmd.(type) {
	case CreateSession:
		b = binary.AppendVarint(b, c.At)
		b = appendString(b, c.ID)
		b = binary.AppendUvarint(b, uint64(len(c.Capabilities)))
		for _, p := range c.Capabilities {
			b = appendString(b, p.Key)
			b = appendString(b, p.Value)
		}
	case ClientRequest:
		b = binary.AppendVarint(b, c.At)
		b = appendString(b, c.Session)
		b = binary.AppendUvarint(b, c.RequestID)
		b = binary.AppendUvarint(b, c.LowestPending)
		b = appendBytes(b, c.Payload)
	case Touch:
		b = binary.AppendVarint(b, c.At)
		b = binary.AppendUvarint(b, uint64(len(c.Sessions)))
		for _, s := range c.Sessions {
			b = appendString(b, s)
		}
	case Acks:
		b = binary.AppendVarint(b, c.At)
		b = binary.AppendUvarint(b, uint64(len(c.Acks)))
		for _, a := range c.Acks {
			b = appendString(b, a.Session)
			b = binary.AppendUvarint(b, a.UpTo)
		}
	case CloseSession:
		b = binary.AppendVarint(b, c.At)
		b = appendString(b, c.Session)
	case LeaderStarted:
		b = binary.AppendVarint(b, c.At)
		b = binary.AppendUvarint(b, c.Term)
	case Redelivery:
		b = binary.AppendVarint(b, c.At)
	case Internal:
		b = binary.AppendVarint(b, c.At)
		b = appendBytes(b, c.Payload)
	case Batch:
		b = binary.AppendUvarint(b, uint64(len(c.Commands)))
		for _, e := range c.Commands {
			b = appendCommand(b, e)
		}
	}
	return b
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func appendBytes(b, p []byte) []byte {
	b = binary.AppendUvarint(b, uint64(len(p)))
	return append(b, p...)
}

// DecodeCommand decodes one log entry. Byte fields (payloads) alias b: do not modify b
// afterwards. Any input that EncodeCommand cannot have produced (unknown version or kind,
// truncation, trailing bytes, non-minimal varints, nested batches) fails with an error
// wrapping ErrMalformed; it never panics, and never allocates more than b can hold.
func DecodeCommand(b []byte) (Command, error) {
	if len(b) == 0 {
		return nil, fmt.Errorf("%w: empty entry", ErrMalformed)
	}
	if b[0] != CommandFormatVersion {
		return nil, fmt.Errorf("%w: unknown command format version %d", ErrMalformed, b[0])
	}
	r := reader{b: b[1:]}
	cmd := r.command(true)
	if r.err == nil && len(r.b) > 0 {
		r.fail("%d trailing bytes", len(r.b))
	}
	if r.err != nil {
		return nil, r.err
	}
	return cmd, nil
}

// reader decodes with a sticky error: after the first failure every read returns zero
// values, so decoders read straight through and check once.
type reader struct {
	b   []byte
	err error
}

func (r *reader) fail(format string, args ...any) {
	if r.err == nil {
		r.err = fmt.Errorf("%w: "+format, append([]any{ErrMalformed}, args...)...)
	}
	r.b = nil
}

func (r *reader) byte() byte {
	if len(r.b) < 1 {
		r.fail("truncated")
		return 0
	}
	v := r.b[0]
	r.b = r.b[1:]
	return v
}

func (r *reader) uvarint() uint64 {
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.fail("bad varint")
		return 0
	}
	// Only the minimal encoding is accepted, so that decoding then encoding gives the
	// same bytes (replicas and snapshots compare bytes).
	if n != uvarintLen(v) {
		r.fail("non-minimal varint")
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) varint() int64 {
	u := r.uvarint()
	// Zig-zag, as binary.AppendVarint writes it.
	v := int64(u >> 1)
	if u&1 != 0 {
		v = ^v
	}
	return v
}

func uvarintLen(v uint64) int {
	n := 1
	for v >= 0x80 {
		v >>= 7
		n++
	}
	return n
}

// count reads an element count and checks that the remaining bytes can hold that many
// elements of at least minSize bytes each, before anything is allocated for them.
func (r *reader) count(minSize int) int {
	n := r.uvarint()
	if r.err != nil {
		return 0
	}
	if n > uint64(len(r.b)/minSize) {
		r.fail("count %d exceeds the %d bytes left", n, len(r.b))
		return 0
	}
	return int(n)
}

func (r *reader) bytes() []byte {
	n := r.uvarint()
	if r.err != nil {
		return nil
	}
	if n > uint64(len(r.b)) {
		r.fail("length %d exceeds the %d bytes left", n, len(r.b))
		return nil
	}
	v := r.b[:n:n]
	r.b = r.b[n:]
	if n == 0 {
		return nil
	}
	return v
}

func (r *reader) string() string { return string(r.bytes()) }

func (r *reader) command(top bool) Command {
	k := commandKind(r.byte())
	if r.err != nil {
		return nil
	}
	switch k {
	case kindCreateSession:
		c := CreateSession{At: r.varint(), ID: r.string()}
		if n := r.count(2); n > 0 {
			c.Capabilities = make([]Capability, n)
			for i := range c.Capabilities {
				c.Capabilities[i] = Capability{Key: r.string(), Value: r.string()}
			}
		}
		return c
	case kindClientRequest:
		return ClientRequest{At: r.varint(), Session: r.string(), RequestID: r.uvarint(), LowestPending: r.uvarint(), Payload: r.bytes()}
	case kindTouch:
		c := Touch{At: r.varint()}
		if n := r.count(1); n > 0 {
			c.Sessions = make([]string, n)
			for i := range c.Sessions {
				c.Sessions[i] = r.string()
			}
		}
		return c
	case kindAcks:
		c := Acks{At: r.varint()}
		if n := r.count(2); n > 0 {
			c.Acks = make([]Ack, n)
			for i := range c.Acks {
				c.Acks[i] = Ack{Session: r.string(), UpTo: r.uvarint()}
			}
		}
		return c
	case kindCloseSession:
		return CloseSession{At: r.varint(), Session: r.string()}
	case kindLeaderStarted:
		return LeaderStarted{At: r.varint(), Term: r.uvarint()}
	case kindRedelivery:
		return Redelivery{At: r.varint()}
	case kindInternal:
		return Internal{At: r.varint(), Payload: r.bytes()}
	case kindBatch:
		if !top {
			r.fail("nested batch")
			return nil
		}
		n := r.count(2)
		if r.err == nil && n == 0 {
			r.fail("empty batch")
			return nil
		}
		c := Batch{Commands: make([]Command, 0, n)}
		for range n {
			e := r.command(false)
			if r.err != nil {
				return nil
			}
			c.Commands = append(c.Commands, e)
		}
		return c
	}
	r.fail("unknown command kind %d", k)
	return nil
}
