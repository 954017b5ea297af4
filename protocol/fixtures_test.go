package protocol_test

import (
	"bytes"
	"encoding/hex"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/zraft/zraft/protocol"
)

// The values the zio-raft fixtures were made from (spec: "Fixture test data").
const (
	fxTimestamp   = protocol.Timestamp(1705680000000)
	fxSession     = protocol.SessionID("test-session-123")
	fxMember      = protocol.MemberID("node-1")
	fxNonce       = protocol.Nonce(42)
	fxRequest     = protocol.RequestID(100)
	fxCorrelation = protocol.CorrelationID("corr-123")
)

var fxPayload = []byte("test-payload")

var fxCaps = protocol.Capabilities{{Key: "capability1", Value: "value1"}, {Key: "capability2", Value: "value2"}}

var clientFixtures = map[string]protocol.ClientMessage{
	"CreateSession":    &protocol.CreateSession{Capabilities: fxCaps, Nonce: fxNonce},
	"ContinueSession":  &protocol.ContinueSession{SessionID: fxSession, Nonce: fxNonce},
	"KeepAlive":        &protocol.KeepAlive{Timestamp: fxTimestamp},
	"ClientRequest":    &protocol.ClientRequest{RequestID: fxRequest, LowestPendingRequestID: fxRequest, Payload: fxPayload, CreatedAt: fxTimestamp},
	"ServerRequestAck": &protocol.ServerRequestAck{RequestID: fxRequest},
	"CloseSession":     &protocol.CloseSession{Reason: protocol.ClientShutdown},
	"ConnectionClosed": &protocol.ConnectionClosed{},
	"Query":            &protocol.Query{CorrelationID: fxCorrelation, Payload: fxPayload, CreatedAt: fxTimestamp},
}

var serverFixtures = map[string]protocol.ServerMessage{
	"SessionCreated":          &protocol.SessionCreated{SessionID: fxSession, Nonce: fxNonce},
	"SessionContinued":        &protocol.SessionContinued{Nonce: fxNonce},
	"SessionRejected":         &protocol.SessionRejected{Reason: protocol.RejectNotLeader, Nonce: fxNonce, Leader: fxMember, HasLeader: true},
	"SessionRejectedNoLeader": &protocol.SessionRejected{Reason: protocol.RejectInvalidCapabilities, Nonce: fxNonce},
	"SessionClosed":           &protocol.SessionClosed{Reason: protocol.CloseShutdown, Leader: fxMember, HasLeader: true},
	"KeepAliveResponse":       &protocol.KeepAliveResponse{Timestamp: fxTimestamp},
	"ClientResponse":          &protocol.ClientResponse{RequestID: fxRequest, Result: fxPayload},
	"ServerRequest":           &protocol.ServerRequest{RequestID: fxRequest, Payload: fxPayload, CreatedAt: fxTimestamp},
	"RequestError":            &protocol.RequestError{RequestID: fxRequest, Reason: protocol.ErrorResponseEvicted},
	"QueryResponse":           &protocol.QueryResponse{CorrelationID: fxCorrelation, Result: fxPayload},
}

// readHex reads a one-line lowercase hex fixture.
func readHex(tb testing.TB, path string) []byte {
	tb.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	b, err := hex.DecodeString(strings.TrimSpace(string(raw)))
	if err != nil {
		tb.Fatalf("%s: %v", path, err)
	}
	return b
}

func fixture(tb testing.TB, name string) []byte {
	return readHex(tb, filepath.Join("testdata", "zio-raft-v1", "protocol", name+".hex"))
}

// TestFixtureSetIsComplete guards against a fixture file that no test covers.
func TestFixtureSetIsComplete(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "zio-raft-v1", "protocol", "*.hex"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 18 {
		t.Fatalf("found %d protocol fixtures, want 18", len(files))
	}
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".hex")
		_, c := clientFixtures[name]
		_, s := serverFixtures[name]
		if !c && !s {
			t.Errorf("fixture %s has no expected value", name)
		}
	}
}

func TestClientFixturesRoundTrip(t *testing.T) {
	for name, want := range clientFixtures {
		t.Run(name, func(t *testing.T) {
			b := fixture(t, name)
			got, err := protocol.AppendClientMessage(nil, want)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, b) {
				t.Fatalf("encode:\n got %x\nwant %x", got, b)
			}
			dec, err := protocol.DecodeClientMessage(b)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(dec, want) {
				t.Fatalf("decode:\n got %#v\nwant %#v", dec, want)
			}
			if dec.ClientCode() != protocol.ClientCode(b[6]) || dec.ClientCode().String() != name {
				t.Fatalf("code %v (%d), want %s (%d)", dec.ClientCode(), dec.ClientCode(), name, b[6])
			}
		})
	}
}

func TestServerFixturesRoundTrip(t *testing.T) {
	for name, want := range serverFixtures {
		t.Run(name, func(t *testing.T) {
			b := fixture(t, name)
			got, err := protocol.AppendServerMessage(nil, want)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, b) {
				t.Fatalf("encode:\n got %x\nwant %x", got, b)
			}
			dec, err := protocol.DecodeServerMessage(b)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(dec, want) {
				t.Fatalf("decode:\n got %#v\nwant %#v", dec, want)
			}
			if dec.ServerCode() != protocol.ServerCode(b[6]) || !strings.HasPrefix(name, dec.ServerCode().String()) {
				t.Fatalf("code %v (%d), want %s (%d)", dec.ServerCode(), dec.ServerCode(), name, b[6])
			}
		})
	}
}

// TestAppendKeepsPrefix checks that encoding appends to dst and leaves its bytes alone.
func TestAppendKeepsPrefix(t *testing.T) {
	prefix := []byte("prefix")
	for name, m := range serverFixtures {
		got, err := protocol.AppendServerMessage(bytes.Clone(prefix), m)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, append(bytes.Clone(prefix), fixture(t, name)...)) {
			t.Errorf("%s: got %x", name, got)
		}
	}
}
