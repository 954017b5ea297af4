package protocol_test

import (
	"bytes"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/zraft/zraft/protocol"
)

// bitShiftedLeader is an independent oracle for the one-bit optional leader id: it
// spells the presence bit and the member-id encoding as a string of '0'/'1' and packs it.
func bitShiftedLeader(id string) []byte {
	var bits strings.Builder
	bits.WriteByte('1')
	enc := append([]byte{byte(len(id) >> 8), byte(len(id))}, id...)
	for _, b := range enc {
		for i := 7; i >= 0; i-- {
			bits.WriteByte('0' + ((b >> i) & 1))
		}
	}
	for bits.Len()%8 != 0 {
		bits.WriteByte('0')
	}
	s := bits.String()
	out := make([]byte, len(s)/8)
	for i := range out {
		for j := 0; j < 8; j++ {
			out[i] = out[i]<<1 | (s[i*8+j] - '0')
		}
	}
	return out
}

// sessionClosedPrefix is a SessionClosed(Shutdown) header and reason; the leader follows.
var sessionClosedPrefix = []byte{'z', 'r', 'a', 'f', 't', 1, 4, 1}

func TestLeaderSpecExample(t *testing.T) {
	want := []byte{0x80, 0x03, 0x37, 0x37, 0xb2, 0x32, 0x96, 0x98, 0x80}
	if got := bitShiftedLeader("node-1"); !bytes.Equal(got, want) {
		t.Fatalf("oracle: %x", got)
	}
	b, err := protocol.AppendServerMessage(nil, &protocol.SessionClosed{Reason: protocol.CloseShutdown, Leader: "node-1", HasLeader: true})
	if err != nil || !bytes.Equal(b[len(sessionClosedPrefix):], want) {
		t.Fatalf("got %x, %v", b, err)
	}
}

func TestLeaderRoundTrip(t *testing.T) {
	ids := map[string]string{
		"empty":       "",
		"1 byte":      "a",
		"all bits":    "\x7f",
		"multi-byte":  "nœud-é-日本",
		"255 bytes":   strings.Repeat("x", 255),
		"256 bytes":   strings.Repeat("y", 256), // the length's high byte is used
		"300 bytes":   strings.Repeat("n", 299) + "z",
		"65535 bytes": strings.Repeat("m", 65535),
	}
	for name, id := range ids {
		t.Run(name, func(t *testing.T) {
			for _, m := range []protocol.ServerMessage{
				&protocol.SessionClosed{Reason: protocol.CloseShutdown, Leader: protocol.MemberID(id), HasLeader: true},
				&protocol.SessionRejected{Reason: protocol.RejectNotLeader, Nonce: 7, Leader: protocol.MemberID(id), HasLeader: true},
			} {
				b, err := protocol.AppendServerMessage(nil, m)
				if err != nil {
					t.Fatal(err)
				}
				oracle := bitShiftedLeader(id)
				if !bytes.HasSuffix(b, oracle) || len(oracle) != len(id)+3 {
					t.Fatalf("leader bytes differ from the oracle (%d bytes)", len(oracle))
				}
				got, err := protocol.DecodeServerMessage(b)
				if err != nil || !reflect.DeepEqual(got, m) {
					t.Fatalf("decode: %v", err)
				}
			}
		})
	}
}

func TestLeaderAbsent(t *testing.T) {
	m := &protocol.SessionClosed{Reason: protocol.CloseShutdown}
	b, err := protocol.AppendServerMessage(nil, m)
	if err != nil || !bytes.Equal(b, append(bytes.Clone(sessionClosedPrefix), 0)) {
		t.Fatalf("got %x, %v", b, err)
	}
	got, err := protocol.DecodeServerMessage(b)
	if err != nil || !reflect.DeepEqual(got, m) {
		t.Fatalf("got %#v, %v", got, err)
	}
	// An absent leader ignores Leader: there is no bit to put it in.
	b2, _ := protocol.AppendServerMessage(nil, &protocol.SessionClosed{Reason: protocol.CloseShutdown, Leader: "ignored"})
	if !bytes.Equal(b, b2) {
		t.Fatalf("got %x", b2)
	}
}

func TestLeaderDecodeErrors(t *testing.T) {
	present := bitShiftedLeader("node-1")
	padded := bytes.Clone(present)
	padded[len(padded)-1] |= 0x01
	cases := []struct {
		name   string
		leader []byte
		field  string
		err    error
	}{
		{"missing", nil, "leader", protocol.ErrTruncated},
		{"absent with padding bits", []byte{0x01}, "leader.padding", protocol.ErrNonZeroPadding},
		{"absent with high padding bits", []byte{0x40}, "leader.padding", protocol.ErrNonZeroPadding},
		{"present with padding bits", padded, "leader.padding", protocol.ErrNonZeroPadding},
		{"present, length cut", present[:2], "leader.length", protocol.ErrTruncated},
		{"present, id cut", present[:len(present)-1], "leader", protocol.ErrTruncated},
		{"present, invalid UTF-8", bitShiftedLeader("\xff"), "leader", protocol.ErrInvalidUTF8},
		{"present, huge length", bitShiftedLeader(strings.Repeat("a", 65535))[:20], "leader", protocol.ErrTruncated},
		{"trailing garbage", append(bytes.Clone(present), 0xaa), "extensions", protocol.ErrTrailingBytes},
	}
	for _, c := range cases {
		_, err := protocol.DecodeServerMessage(append(bytes.Clone(sessionClosedPrefix), c.leader...))
		var de *protocol.DecodeError
		if !errors.Is(err, c.err) || !errors.As(err, &de) || de.Field != c.field {
			t.Errorf("%s: got %v, want %v in %s", c.name, err, c.err, c.field)
		}
	}
}

func TestLeaderEncodeErrors(t *testing.T) {
	for name, c := range map[string]struct {
		id  string
		err error
	}{
		"too long":     {strings.Repeat("a", 65536), protocol.ErrInvalidLength},
		"invalid utf8": {"\xed\xa0\x80", protocol.ErrInvalidUTF8},
	} {
		_, err := protocol.AppendServerMessage(nil, &protocol.SessionClosed{Reason: 1, Leader: protocol.MemberID(c.id), HasLeader: true})
		var ee *protocol.EncodeError
		if !errors.Is(err, c.err) || !errors.As(err, &ee) || ee.Field != "leader" || ee.Message != "SessionClosed" {
			t.Errorf("%s: got %v", name, err)
		}
	}
}
