package protocol_test

import (
	"bytes"
	"errors"
	"runtime"
	"strings"
	"testing"

	"github.com/zraft/zraft/protocol"
)

func decodeAny(b []byte, server bool) error {
	if server {
		_, err := protocol.DecodeServerMessage(b)
		return err
	}
	_, err := protocol.DecodeClientMessage(b)
	return err
}

// TestEveryPrefixIsTruncated cuts every fixture at every length: each cut must fail with
// ErrTruncated (no field of v1 may end early), and never panic.
func TestEveryPrefixIsTruncated(t *testing.T) {
	check := func(name string, b []byte, server bool) {
		for n := 0; n < len(b); n++ {
			if err := decodeAny(b[:n], server); !errors.Is(err, protocol.ErrTruncated) {
				t.Errorf("%s cut to %d bytes: %v", name, n, err)
			}
		}
	}
	for name := range clientFixtures {
		check(name, fixture(t, name), false)
	}
	for name := range serverFixtures {
		check(name, fixture(t, name), true)
	}
}

func TestDecodeErrors(t *testing.T) {
	cases := []struct {
		name   string
		server bool
		hex    string
		field  string
		err    error
	}{
		{"bad signature", false, "7a726166750104", "signature", protocol.ErrBadSignature},
		{"bad signature start", true, "5a", "signature", protocol.ErrBadSignature},
		{"version 0", false, "7a726166740004", "version", protocol.ErrUnsupportedVersion},
		{"version 2", true, "7a726166740201", "version", protocol.ErrUnsupportedVersion},
		{"client code 0", false, "7a726166740100", "code", protocol.ErrUnknownCode},
		{"client code 9", false, "7a726166740109", "code", protocol.ErrUnknownCode},
		{"server code 10", true, "7a72616674010a", "code", protocol.ErrUnknownCode},
		{"server code 255", true, "7a7261667401ff", "code", protocol.ErrUnknownCode},
		{"zero nonce create", false, "7a726166740101000100000000" + "0000000000000000", "nonce", protocol.ErrZeroNonce},
		{"zero nonce continue", false, "7a7261667401020000000000000000000000", "nonce", protocol.ErrZeroNonce},
		{"zero nonce created", true, "7a7261667401010000000000000000000000", "nonce", protocol.ErrZeroNonce},
		{"zero nonce continued", true, "7a7261667401020000000000000000", "nonce", protocol.ErrZeroNonce},
		{"zero nonce rejected", true, "7a72616674010301000000000000000000", "nonce", protocol.ErrZeroNonce},
		{"empty capabilities", false, "7a72616674010100000000000000000001", "capabilities.count", protocol.ErrEmptyCapabilities},
		{"capability count lies", false, "7a7261667401010fff00000000000000000001", "capabilities.count", protocol.ErrTruncated},
		{"capability key utf8", false, "7a72616674010100010001ff0000000000000000000001", "capabilities.key", protocol.ErrInvalidUTF8},
		{"capability value utf8", false, "7a72616674010100010000" + "0001c0" + "0000000000000001", "capabilities.value", protocol.ErrInvalidUTF8},
		{"session id utf8", false, "7a726166740102" + "02c328" + "0000000000000001", "session_id", protocol.ErrInvalidUTF8},
		{"session id past end", true, "7a726166740101" + "ff41", "session_id", protocol.ErrTruncated},
		{"negative payload", false, "7a726166740104" + "0000000000000001" + "0000000000000001" + "ffffffff" + "0000000000000000", "payload.length", protocol.ErrInvalidLength},
		{"min int32 payload", true, "7a726166740107" + "0000000000000001" + "80000000", "payload.length", protocol.ErrInvalidLength},
		{"negative result", true, "7a726166740106" + "0000000000000001" + "fffffffe", "result.length", protocol.ErrInvalidLength},
		{"payload past end", false, "7a726166740104" + "0000000000000001" + "0000000000000001" + "00000010" + "00", "payload", protocol.ErrTruncated},
		{"missing created-at", false, "7a726166740104" + "0000000000000001" + "0000000000000001" + "00000000" + "000000", "created_at", protocol.ErrTruncated},
		{"empty correlation id", false, "7a726166740108" + "0000" + "00000000" + "0000000000000000", "correlation_id", protocol.ErrEmptyCorrelationID},
		{"empty correlation id response", true, "7a726166740109" + "0000" + "00000000", "correlation_id", protocol.ErrEmptyCorrelationID},
		{"correlation id utf8", true, "7a726166740109" + "0002e282" + "00000000", "correlation_id", protocol.ErrInvalidUTF8},
		{"trailing byte v1", false, "7a726166740107" + "00", "extensions", protocol.ErrTrailingBytes},
	}
	for _, c := range cases {
		err := decodeAny(mustHex(t, c.hex), c.server)
		var de *protocol.DecodeError
		if !errors.Is(err, c.err) || !errors.As(err, &de) || de.Field != c.field {
			t.Errorf("%s: got %v, want %v in field %s", c.name, err, c.err, c.field)
		}
	}
}

func TestDecodeErrorNamesMessageAndOffset(t *testing.T) {
	b := mustHex(t, "7a726166740104"+"0000000000000001"+"0000000000000001"+"ffffffff")
	_, err := protocol.DecodeClientMessage(b)
	var de *protocol.DecodeError
	if !errors.As(err, &de) || de.Message != "ClientRequest" || de.Field != "payload.length" || de.Offset != 23 {
		t.Fatalf("got %#v", err)
	}
	if want := "decode ClientRequest.payload.length at byte 23: protocol: invalid length"; err.Error() != want {
		t.Fatalf("got %q", err.Error())
	}
}

func TestMaxMessageSize(t *testing.T) {
	b := fixture(t, "ClientRequest")
	if _, err := (protocol.Decoder{MaxMessageSize: len(b)}).DecodeClientMessage(b); err != nil {
		t.Fatalf("at the limit: %v", err)
	}
	_, err := (protocol.Decoder{MaxMessageSize: len(b) - 1}).DecodeClientMessage(b)
	var de *protocol.DecodeError
	if !errors.Is(err, protocol.ErrTooLarge) || !errors.As(err, &de) || de.Field != "size" {
		t.Fatalf("over the limit: %v", err)
	}
	// The size is checked before anything else, even the signature.
	big := make([]byte, protocol.DefaultMaxMessageSize+1)
	if _, err := protocol.DecodeServerMessage(big); !errors.Is(err, protocol.ErrTooLarge) {
		t.Fatalf("default limit: %v", err)
	}
	if _, err := protocol.DecodeServerMessage(big[:protocol.DefaultMaxMessageSize]); !errors.Is(err, protocol.ErrBadSignature) {
		t.Fatalf("at the default limit: %v", err)
	}
}

// TestHugeLengthFailsFastWithoutAllocating: a 2 GiB payload claim in a 20-odd-byte
// message fails without allocating anything sized by the claim.
func TestHugeLengthFailsFastWithoutAllocating(t *testing.T) {
	inputs := map[string][]byte{
		"payload": mustHex(t, "7a726166740107"+"0000000000000001"+"7fffffff"+"0000"),
		"result":  mustHex(t, "7a726166740106"+"0000000000000001"+"7fffffff"+"0000"),
		"caps":    mustHex(t, "7a7261667401"+"01ffff"+"0000"),
		"leader":  mustHex(t, "7a7261667401"+"0401"+"ffffff"+"0000"),
		"ext":     mustHex(t, "7a7261667401"+"07"+"7a65787401"+"7fffffff"),
		"entry":   mustHex(t, "7a7261667401"+"07"+"7a65787401"+"00000006"+"8000ffffffff"),
	}
	for name, b := range inputs {
		decode := func() {
			if _, err := protocol.DecodeClientMessage(b); err == nil {
				t.Fatalf("%s decoded", name)
			}
			if _, err := protocol.DecodeServerMessage(b); err == nil {
				t.Fatalf("%s decoded", name)
			}
		}
		// Per call: the error and at most the message struct, for both directions.
		if allocs := testing.AllocsPerRun(100, decode); allocs > 4 {
			t.Errorf("%s: %v allocations", name, allocs)
		}
		if n := bytesPerRun(100, decode); n > 1024 {
			t.Errorf("%s: %d bytes allocated per decode", name, n)
		}
	}
}

// bytesPerRun returns the bytes allocated per call of f, averaged over runs.
func bytesPerRun(runs int, f func()) uint64 {
	var before, after runtime.MemStats
	f()
	runtime.GC()
	runtime.ReadMemStats(&before)
	for range runs {
		f()
	}
	runtime.ReadMemStats(&after)
	return (after.TotalAlloc - before.TotalAlloc) / uint64(runs)
}

func TestEncodeErrors(t *testing.T) {
	long := strings.Repeat("s", 256)
	client := []struct {
		m     protocol.ClientMessage
		field string
		err   error
	}{
		{&protocol.CreateSession{Capabilities: fxCaps}, "nonce", protocol.ErrZeroNonce},
		{&protocol.CreateSession{Nonce: 1}, "capabilities", protocol.ErrEmptyCapabilities},
		{&protocol.CreateSession{Nonce: 1, Capabilities: protocol.Capabilities{{Key: "\xff"}}}, "capabilities.key", protocol.ErrInvalidUTF8},
		{&protocol.CreateSession{Nonce: 1, Capabilities: protocol.Capabilities{{Key: "k", Value: strings.Repeat("v", 65536)}}}, "capabilities.value", protocol.ErrInvalidLength},
		{&protocol.CreateSession{Nonce: 1, Capabilities: make(protocol.Capabilities, 65536)}, "capabilities", protocol.ErrInvalidLength},
		{&protocol.ContinueSession{SessionID: "s"}, "nonce", protocol.ErrZeroNonce},
		{&protocol.ContinueSession{SessionID: protocol.SessionID(long), Nonce: 1}, "session_id", protocol.ErrInvalidLength},
		{&protocol.ContinueSession{SessionID: "\x80", Nonce: 1}, "session_id", protocol.ErrInvalidUTF8},
		{&protocol.Query{Payload: []byte("p")}, "correlation_id", protocol.ErrEmptyCorrelationID},
		{&protocol.Query{CorrelationID: "\xff"}, "correlation_id", protocol.ErrInvalidUTF8},
		{(*protocol.KeepAlive)(nil), "", protocol.ErrNilMessage},
		{nil, "", protocol.ErrNilMessage},
	}
	for i, c := range client {
		dst := []byte("keep")
		out, err := protocol.AppendClientMessage(dst, c.m)
		var ee *protocol.EncodeError
		if !errors.Is(err, c.err) || !errors.As(err, &ee) || ee.Field != c.field || !bytes.Equal(out, []byte("keep")) {
			t.Errorf("client %d (%T): got %q, %v; want %v in %s", i, c.m, out, err, c.err, c.field)
		}
	}
	server := []struct {
		m     protocol.ServerMessage
		field string
		err   error
	}{
		{&protocol.SessionCreated{SessionID: "s"}, "nonce", protocol.ErrZeroNonce},
		{&protocol.SessionCreated{SessionID: protocol.SessionID(long), Nonce: 1}, "session_id", protocol.ErrInvalidLength},
		{&protocol.SessionContinued{}, "nonce", protocol.ErrZeroNonce},
		{&protocol.SessionRejected{Reason: 1}, "nonce", protocol.ErrZeroNonce},
		{&protocol.QueryResponse{}, "correlation_id", protocol.ErrEmptyCorrelationID},
		{(*protocol.ServerRequest)(nil), "", protocol.ErrNilMessage},
		{nil, "", protocol.ErrNilMessage},
	}
	for i, c := range server {
		out, err := protocol.AppendServerMessage(nil, c.m)
		var ee *protocol.EncodeError
		if !errors.Is(err, c.err) || !errors.As(err, &ee) || ee.Field != c.field || out != nil {
			t.Errorf("server %d (%T): got %x, %v; want %v in %s", i, c.m, out, err, c.err, c.field)
		}
	}
}

func TestUnknownReasonsSurviveRoundTrip(t *testing.T) {
	msgs := []protocol.ServerMessage{
		&protocol.SessionRejected{Reason: 200, Nonce: 1},
		&protocol.SessionClosed{Reason: 0},
		&protocol.RequestError{RequestID: 1, Reason: 77},
	}
	for _, m := range msgs {
		b, err := protocol.AppendServerMessage(nil, m)
		if err != nil {
			t.Fatal(err)
		}
		got, err := protocol.DecodeServerMessage(b)
		if err != nil {
			t.Fatal(err)
		}
		again, _ := protocol.AppendServerMessage(nil, got)
		if !bytes.Equal(b, again) {
			t.Fatalf("%T: %x re-encodes to %x", m, b, again)
		}
	}
	c, err := protocol.DecodeClientMessage(mustHex(t, "7a726166740106"+"09"))
	if err != nil || c.(*protocol.CloseSession).Reason != 9 || c.(*protocol.CloseSession).Reason.Known() {
		t.Fatalf("CloseSession(9): %#v, %v", c, err)
	}
}

func TestReasonNames(t *testing.T) {
	cases := []struct {
		s         interface{ String() string }
		known, v1 bool
		want      string
	}{
		{protocol.RejectNotLeader, true, true, "NotLeader"},
		{protocol.RejectOther, true, true, "Other"},
		{protocol.RejectSessionLimit, true, false, "SessionLimit"},
		{protocol.RejectionReason(0), false, false, "Unknown(0)"},
		{protocol.RejectionReason(7), false, false, "Unknown(7)"},
		{protocol.CloseSessionExpired, true, true, "SessionExpired"},
		{protocol.SessionCloseReason(6), false, false, "Unknown(6)"},
		{protocol.ClientShutdown, true, true, "ClientShutdown"},
		{protocol.ClientCloseReason(2), false, false, "Unknown(2)"},
		{protocol.ErrorResponseEvicted, true, true, "ResponseEvicted"},
		{protocol.ErrorOverloaded, true, false, "Overloaded"},
		{protocol.RequestErrorReason(4), false, false, "Unknown(4)"},
	}
	for _, c := range cases {
		type kv interface {
			Known() bool
			V1() bool
		}
		r := c.s.(kv)
		if c.s.String() != c.want || r.Known() != c.known || r.V1() != c.v1 {
			t.Errorf("%s: Known %v V1 %v", c.s, r.Known(), r.V1())
		}
	}
	if protocol.ConsistencyStale.String() != "Stale" || protocol.Consistency(4).Known() || protocol.Consistency(4).String() != "Unknown(4)" {
		t.Error("consistency names")
	}
	if protocol.ClientCode(9).String() != "ClientCode(9)" || protocol.ServerCode(0).String() != "ServerCode(0)" {
		t.Error("code names")
	}
}

func TestCapabilitiesLastWins(t *testing.T) {
	caps := protocol.Capabilities{{Key: "a", Value: "1"}, {Key: "b", Value: "2"}, {Key: "a", Value: "3"}}
	if v, ok := caps.Get("a"); !ok || v != "3" {
		t.Errorf("Get(a) = %q, %v", v, ok)
	}
	if _, ok := caps.Get("c"); ok {
		t.Error("Get(c) found")
	}
	if m := caps.Map(); len(m) != 2 || m["a"] != "3" || m["b"] != "2" {
		t.Errorf("Map = %v", m)
	}
}
