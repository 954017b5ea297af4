package protocol_test

import (
	"bytes"
	"encoding/hex"
	"errors"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/zraft/zraft/protocol"
)

const (
	fxTraceParent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
	fxTraceState  = "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE"
)

var fxMembers = []protocol.Member{
	{ID: "node-1", Endpoint: "tcp://127.0.0.1:7001"},
	{ID: "node-2", Endpoint: "tcp://127.0.0.1:7002"},
	{ID: "node-3", Endpoint: "tcp://127.0.0.1:7003"},
}

var fxTrace = &protocol.Extensions{TraceParent: fxTraceParent, TraceState: fxTraceState}

// extFixtures are zraft's own fixtures (testdata/zraft-ext/protocol); each entry is a
// client or a server message.
var extFixtures = map[string]any{
	"ClientRequest_trace": &protocol.ClientRequest{RequestID: fxRequest, LowestPendingRequestID: fxRequest, Payload: fxPayload,
		CreatedAt: fxTimestamp, Ext: fxTrace},
	"Query_trace_lease": &protocol.Query{CorrelationID: fxCorrelation, Payload: fxPayload, CreatedAt: fxTimestamp,
		Ext: &protocol.Extensions{TraceParent: fxTraceParent, Consistency: protocol.ConsistencyLease}},
	"ServerRequest_trace": &protocol.ServerRequest{RequestID: fxRequest, Payload: fxPayload, CreatedAt: fxTimestamp, Ext: fxTrace},
	"SessionCreated_version_members": &protocol.SessionCreated{SessionID: fxSession, Nonce: fxNonce,
		Ext: &protocol.Extensions{Version: 1, Members: fxMembers}},
	"SessionContinued_version_members": &protocol.SessionContinued{Nonce: fxNonce,
		Ext: &protocol.Extensions{Version: 1, Members: fxMembers}},
	"SessionRejected_members": &protocol.SessionRejected{Reason: protocol.RejectNotLeader, Nonce: fxNonce, Leader: fxMember, HasLeader: true,
		Ext: &protocol.Extensions{Members: fxMembers}},
	"SessionClosed_members": &protocol.SessionClosed{Reason: protocol.CloseNotLeaderAnymore, Leader: fxMember, HasLeader: true,
		Ext: &protocol.Extensions{Members: fxMembers}},
	"SessionClosed_noleader_members": &protocol.SessionClosed{Reason: protocol.CloseShutdown, Ext: &protocol.Extensions{Members: fxMembers}},
	"KeepAlive_empty":                &protocol.KeepAlive{Timestamp: fxTimestamp, Ext: &protocol.Extensions{}},
	"KeepAlive_unknown": &protocol.KeepAlive{Timestamp: fxTimestamp,
		Ext: &protocol.Extensions{Unknown: []protocol.RawExtension{{Type: 0x8001, Value: []byte("hi")}}}},
	"CreateSession_extcap": &protocol.CreateSession{Nonce: fxNonce, Capabilities: protocol.Capabilities{
		{Key: "capability1", Value: "value1"}, {Key: protocol.ExtensionCapabilityKey, Value: "1"}}},
	"RequestError_PayloadTooLarge": &protocol.RequestError{RequestID: fxRequest, Reason: protocol.ErrorPayloadTooLarge},
}

func TestExtensionFixturesRoundTrip(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "zraft-ext", "protocol", "*.hex"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != len(extFixtures) {
		t.Fatalf("%d extension fixture files, %d expected values", len(files), len(extFixtures))
	}
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".hex")
		t.Run(name, func(t *testing.T) {
			b := readHex(t, f)
			var enc []byte
			var dec any
			var err error
			switch want := extFixtures[name].(type) {
			case protocol.ClientMessage:
				if enc, err = protocol.AppendClientMessage(nil, want); err == nil {
					dec, err = protocol.DecodeClientMessage(b)
				}
			case protocol.ServerMessage:
				if enc, err = protocol.AppendServerMessage(nil, want); err == nil {
					dec, err = protocol.DecodeServerMessage(b)
				}
			default:
				t.Fatalf("no expected value for %s", name)
			}
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(enc, b) {
				t.Fatalf("encode:\n got %x\nwant %x", enc, b)
			}
			if !reflect.DeepEqual(dec, extFixtures[name]) {
				t.Fatalf("decode:\n got %#v\nwant %#v", dec, extFixtures[name])
			}
		})
	}
}

// TestNoExtensionsIsV1 checks that a message without extensions is exactly its v1 bytes
// and that the extension fixtures are those bytes followed by a block.
func TestNoExtensionsIsV1(t *testing.T) {
	for ext, v1 := range map[string]string{
		"ClientRequest_trace": "ClientRequest", "ServerRequest_trace": "ServerRequest",
		"SessionCreated_version_members": "SessionCreated", "SessionContinued_version_members": "SessionContinued",
		"SessionRejected_members": "SessionRejected",
	} {
		b := readHex(t, filepath.Join("testdata", "zraft-ext", "protocol", ext+".hex"))
		prefix := fixture(t, v1)
		if !bytes.HasPrefix(b, prefix) || !bytes.HasPrefix(b[len(prefix):], []byte(protocol.ExtensionMagic)) {
			t.Errorf("%s is not %s followed by a block", ext, v1)
		}
	}
}

func TestExtensionUnknownEntriesAreKeptInOrder(t *testing.T) {
	m := &protocol.ServerRequest{RequestID: 1, Payload: []byte{}, Ext: &protocol.Extensions{
		TraceParent: "tp",
		Unknown:     []protocol.RawExtension{{Type: 9, Value: []byte{}}, {Type: 0x7fff, Value: []byte("x")}, {Type: 0, Value: []byte("y")}},
	}}
	b, err := protocol.AppendServerMessage(nil, m)
	if err != nil {
		t.Fatal(err)
	}
	got, err := protocol.DecodeServerMessage(b)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, m) {
		t.Fatalf("got %#v", got.Extensions())
	}
	// An unknown entry placed between known ones is skipped over, not misread.
	raw := mustHex(t, "7a7261667401030000000000000001"+"7a65787401"+"00000018"+
		"0002000000027470"+"01230000000301ff02"+"000500000001"+"03")
	dec, err := protocol.DecodeClientMessage(raw)
	if err != nil {
		t.Fatal(err)
	}
	want := &protocol.Extensions{TraceParent: "tp", Consistency: protocol.ConsistencyStale,
		Unknown: []protocol.RawExtension{{Type: 0x0123, Value: []byte{1, 0xff, 2}}}}
	if !reflect.DeepEqual(dec.Extensions(), want) {
		t.Fatalf("got %#v", dec.Extensions())
	}
}

func TestExtensionDecodeErrors(t *testing.T) {
	ka := "7a7261667401030000018d22735400" // KeepAlive
	cases := []struct {
		name, hex, field string
		err              error
	}{
		{"garbage after last field", ka + "00", "extensions", protocol.ErrTrailingBytes},
		{"short magic", ka + "7a6578", "extensions", protocol.ErrTrailingBytes},
		{"no version", ka + "7a657874", "extensions.version", protocol.ErrTruncated},
		{"future version", ka + "7a6578740200000000", "extensions.version", protocol.ErrUnsupportedVersion},
		{"short block length", ka + "7a65787401000000", "extensions.length", protocol.ErrTruncated},
		{"block longer than message", ka + "7a6578740100000001", "extensions.length", protocol.ErrTruncated},
		{"bytes after block", ka + "7a657874010000000000", "extensions", protocol.ErrTrailingBytes},
		{"short entry header", ka + "7a65787401000000020001", "extensions.entry.length", protocol.ErrTruncated},
		{"entry past block", ka + "7a65787401000000060001000000ff", "extensions.entry.length", protocol.ErrTruncated},
		{"zero version entry", ka + "7a6578740100000007000100000001" + "00", "extensions.version_entry", protocol.ErrInvalidValue},
		{"long version entry", ka + "7a6578740100000008000100000002" + "0101", "extensions.entry", protocol.ErrBadExtension},
		{"empty version entry", ka + "7a6578740100000006000100000000", "extensions.version_entry", protocol.ErrTruncated},
		{"duplicate", ka + "7a657874010000000e" + "00010000000101" + "00010000000101", "extensions.entry.type", protocol.ErrDuplicateExtension},
		{"empty traceparent", ka + "7a6578740100000006000200000000", "extensions.traceparent", protocol.ErrInvalidValue},
		{"bad utf8 tracestate", ka + "7a6578740100000007000300000001ff", "extensions.tracestate", protocol.ErrInvalidUTF8},
		{"zero consistency", ka + "7a657874010000000700050000000100", "extensions.consistency", protocol.ErrInvalidValue},
		{"no members", ka + "7a65787401000000080004000000020000", "extensions.members.count", protocol.ErrInvalidValue},
		{"members count lies", ka + "7a6578740100000008000400000002ffff", "extensions.members.count", protocol.ErrTruncated},
		{"member id past entry", ka + "7a657874010000000c000400000006000100090000", "extensions.members.id", protocol.ErrTruncated},
		{"member leftover", ka + "7a657874010000000d000400000007000100000000ee", "extensions.entry", protocol.ErrBadExtension},
	}
	for _, c := range cases {
		_, err := protocol.DecodeClientMessage(mustHex(t, c.hex))
		var de *protocol.DecodeError
		if !errors.Is(err, c.err) || !errors.As(err, &de) || de.Field != c.field {
			t.Errorf("%s: got %v, want %v in %s", c.name, err, c.err, c.field)
		}
	}
}

func TestExtensionEncodeErrors(t *testing.T) {
	cases := []struct {
		name string
		ext  *protocol.Extensions
		err  error
	}{
		{"unknown reusing a known type", &protocol.Extensions{Unknown: []protocol.RawExtension{{Type: protocol.ExtTypeMembers}}}, protocol.ErrInvalidValue},
		{"bad utf8 traceparent", &protocol.Extensions{TraceParent: "\xff"}, protocol.ErrInvalidUTF8},
		{"bad utf8 member", &protocol.Extensions{Members: []protocol.Member{{ID: "a", Endpoint: "\xc3"}}}, protocol.ErrInvalidUTF8},
		{"member id too long", &protocol.Extensions{Members: []protocol.Member{{ID: protocol.MemberID(strings.Repeat("a", 1<<16))}}}, protocol.ErrInvalidLength},
	}
	for _, c := range cases {
		dst := []byte("keep")
		out, err := protocol.AppendServerMessage(dst, &protocol.SessionContinued{Nonce: 1, Ext: c.ext})
		if !errors.Is(err, c.err) || string(out) != "keep" {
			t.Errorf("%s: got %q, %v; want %v", c.name, out, err, c.err)
		}
	}
}

func TestNegotiation(t *testing.T) {
	cases := []struct {
		caps   protocol.Capabilities
		client uint8
		ok     bool
		agreed uint8
	}{
		{protocol.Capabilities{{Key: "a", Value: "b"}}, 0, false, 0},
		{protocol.Capabilities{{Key: protocol.ExtensionCapabilityKey, Value: "1"}}, 1, true, 1},
		{protocol.Capabilities{{Key: protocol.ExtensionCapabilityKey, Value: "7"}}, 7, true, 1},
		{protocol.Capabilities{{Key: protocol.ExtensionCapabilityKey, Value: "1"}, {Key: protocol.ExtensionCapabilityKey, Value: "no"}}, 0, false, 0},
		{protocol.Capabilities{{Key: protocol.ExtensionCapabilityKey, Value: "x"}, {Key: protocol.ExtensionCapabilityKey, Value: "2"}}, 2, true, 1},
		{protocol.Capabilities{{Key: protocol.ExtensionCapabilityKey, Value: "0"}}, 0, false, 0},
		{protocol.Capabilities{{Key: protocol.ExtensionCapabilityKey, Value: "256"}}, 0, false, 0},
	}
	for i, c := range cases {
		v, ok := protocol.ClientSupportsExtensions(c.caps)
		if v != c.client || ok != c.ok {
			t.Errorf("case %d: ClientSupportsExtensions = %d, %v", i, v, ok)
		}
		if got := protocol.NegotiateExtensions(c.caps, protocol.ExtensionVersion); got != c.agreed {
			t.Errorf("case %d: NegotiateExtensions = %d, want %d", i, got, c.agreed)
		}
	}
	if got := protocol.NegotiateExtensions(cases[1].caps, 0); got != 0 {
		t.Errorf("server without extensions negotiated %d", got)
	}
	orig := protocol.Capabilities{{Key: protocol.ExtensionCapabilityKey, Value: "9"}, {Key: "k", Value: "v"}}
	got := protocol.WithExtensionCapability(orig)
	want := protocol.Capabilities{{Key: "k", Value: "v"}, {Key: protocol.ExtensionCapabilityKey, Value: "1"}}
	if !reflect.DeepEqual(got, want) || orig[0].Value != "9" {
		t.Errorf("WithExtensionCapability = %v (input now %v)", got, orig)
	}
}

func TestExtensionsIsZero(t *testing.T) {
	var nilExt *protocol.Extensions
	if !nilExt.IsZero() || !(&protocol.Extensions{}).IsZero() || (&protocol.Extensions{Consistency: 1}).IsZero() {
		t.Fatal("IsZero is wrong")
	}
}

func mustHex(tb testing.TB, s string) []byte {
	tb.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// TestDocWorkedExample keeps the worked example of docs/protocol.md true.
func TestDocWorkedExample(t *testing.T) {
	want := mustHex(t, strings.ReplaceAll("7a 72 61 66 74 01 02 00 00 00 00 00 00 00 2a 7a 65 78 74 01 00 00 00 2c "+
		"00 01 00 00 00 01 01 00 04 00 00 00 1f 00 01 00 06 6e 6f 64 65 2d 31 00 13 74 63 70 3a 2f 2f 31 30 2e 30 "+
		"2e 30 2e 31 3a 37 30 30 31", " ", ""))
	m := &protocol.SessionContinued{Nonce: 42, Ext: &protocol.Extensions{Version: 1,
		Members: []protocol.Member{{ID: "node-1", Endpoint: "tcp://10.0.0.1:7001"}}}}
	got, err := protocol.AppendServerMessage(nil, m)
	if err != nil || !bytes.Equal(got, want) || len(got) != 68 {
		t.Fatalf("got %x (%d bytes), %v", got, len(got), err)
	}
	dec, err := protocol.DecodeServerMessage(want)
	if err != nil || !reflect.DeepEqual(dec, m) {
		t.Fatalf("got %#v, %v", dec, err)
	}
}

func TestConfirmedExtensions(t *testing.T) {
	cases := []struct {
		m  protocol.ServerMessage
		v  uint8
		ok bool
	}{
		{&protocol.SessionCreated{SessionID: "s", Nonce: 1, Ext: &protocol.Extensions{Version: 1}}, 1, true},
		{&protocol.SessionContinued{Nonce: 1, Ext: &protocol.Extensions{Version: 3, Members: fxMembers}}, 3, true},
		{&protocol.SessionContinued{Nonce: 1, Ext: &protocol.Extensions{Members: fxMembers}}, 0, false},
		{&protocol.SessionCreated{SessionID: "s", Nonce: 1}, 0, false},
		{&protocol.SessionRejected{Reason: 1, Nonce: 1, Ext: &protocol.Extensions{Version: 1}}, 0, false},
		{(*protocol.SessionCreated)(nil), 0, false},
		{nil, 0, false},
	}
	for i, c := range cases {
		if v, ok := protocol.ConfirmedExtensions(c.m); v != c.v || ok != c.ok {
			t.Errorf("case %d: got %d, %v", i, v, ok)
		}
	}
}
