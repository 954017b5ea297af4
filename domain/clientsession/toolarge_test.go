package clientsession_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/zraft/zraft/domain/clientsession"
	"github.com/zraft/zraft/protocol"
)

func encode(t testing.TB, m protocol.ServerMessage) []byte {
	b, err := protocol.AppendServerMessage(nil, m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// An answer over MaxMessageSize fails its call with ErrResultTooLarge and leaves the
// connection up, whether the shell passes the whole message or only its first bytes.
func TestAnswerTooLarge(t *testing.T) {
	cfg := baseConfig()
	cfg.MaxMessageSize = 1000
	e := connected(t, cfg)
	mustStep(t, e, 1, clientsession.Submit{Handle: 1, Payload: []byte("cmd")})
	mustStep(t, e, 1, clientsession.Query{Handle: 2, Payload: []byte("read"), CorrelationID: "q-2"})
	big := bytes.Repeat([]byte("r"), 2000)

	check := func(out []clientsession.Output, h clientsession.Handle) {
		t.Helper()
		if len(out) != 1 {
			t.Fatalf("outputs %#v, want one delivery", out)
		}
		d, ok := out[0].(clientsession.Deliver)
		if !ok || d.Handle != h || !errors.Is(d.Err, clientsession.ErrResultTooLarge) {
			t.Fatalf("output %#v", out[0])
		}
	}
	check(mustStep(t, e, 2, clientsession.Received{Conn: 1, Bytes: encode(t, &protocol.ClientResponse{RequestID: 1, Result: big})}), 1)
	resp := encode(t, &protocol.QueryResponse{CorrelationID: "q-2", Result: big})
	check(mustStep(t, e, 3, clientsession.ReceivedTooLarge{Conn: 1, Prefix: resp[:64], Size: uint64(len(resp))}), 2)

	// A server request cannot be delivered: it is reported and not acknowledged.
	out := mustStep(t, e, 4, clientsession.Received{Conn: 1, Bytes: encode(t, &protocol.ServerRequest{RequestID: 1, Payload: big})})
	if len(out) != 1 {
		t.Fatalf("outputs %#v, want one Ignored", out)
	}
	if _, ok := out[0].(clientsession.Ignored); !ok {
		t.Fatalf("output %#v", out[0])
	}
	// A late duplicate and bytes without a header are ignored too.
	for _, p := range [][]byte{encode(t, &protocol.ClientResponse{RequestID: 1}), []byte("junk")} {
		out := mustStep(t, e, 5, clientsession.ReceivedTooLarge{Conn: 1, Prefix: p, Size: 5000})
		if len(out) != 1 {
			t.Fatalf("outputs %#v", out)
		}
		if _, ok := out[0].(clientsession.Ignored); !ok {
			t.Fatalf("output %#v", out[0])
		}
	}
	if st := e.Status(); st.State != clientsession.StateConnected || st.Conn != 1 || st.Pending+st.Queries != 0 {
		t.Fatalf("status %+v", st)
	}
}

// Before the session is confirmed, an oversize message breaks the attempt.
func TestTooLargeDuringHandshake(t *testing.T) {
	e, err := clientsession.New(baseConfig())
	if err != nil {
		t.Fatal(err)
	}
	e.Tick(0)
	mustStep(t, e, 0, clientsession.ConnectionUp{Conn: 1, Nonce: 5})
	out := mustStep(t, e, 1, clientsession.ReceivedTooLarge{Conn: 1, Prefix: []byte("zraft"), Size: 1 << 30})
	found := false
	for _, o := range out {
		if d, ok := o.(clientsession.Disconnect); ok && d.Conn == 1 {
			found = true
		}
	}
	if !found {
		t.Fatalf("outputs %#v, want Disconnect of 1", out)
	}
	cfg := baseConfig()
	cfg.MaxMessageSize = -1
	if _, err := clientsession.New(cfg); !errors.Is(err, clientsession.ErrInvalidConfig) {
		t.Fatalf("negative MaxMessageSize: %v", err)
	}
}

// FuzzReceivedTooLarge feeds arbitrary prefixes to a connected engine with calls
// pending: it never panics and answers only with a failure of a pending call, an
// Ignored, or nothing else.
func FuzzReceivedTooLarge(f *testing.F) {
	f.Add(encode(f, &protocol.ClientResponse{RequestID: 1, Result: []byte("x")}), uint64(5000))
	f.Add(encode(f, &protocol.QueryResponse{CorrelationID: "q-2", Result: []byte("x")}), uint64(5000))
	f.Add(encode(f, &protocol.ServerRequest{RequestID: 1}), uint64(1))
	f.Add([]byte("zraft\x01\x09\xff\xff"), uint64(1<<40))
	f.Fuzz(func(t *testing.T, prefix []byte, size uint64) {
		cfg := baseConfig()
		cfg.MaxMessageSize = 1000
		e := connected(t, cfg)
		mustStep(t, e, 1, clientsession.Submit{Handle: 1, Payload: []byte("cmd")})
		mustStep(t, e, 1, clientsession.Query{Handle: 2, Payload: []byte("read"), CorrelationID: "q-2"})
		out := mustStep(t, e, 2, clientsession.ReceivedTooLarge{Conn: 1, Prefix: prefix, Size: size})
		if len(out) != 1 {
			t.Fatalf("outputs %#v", out)
		}
		switch o := out[0].(type) {
		case clientsession.Deliver:
			if !errors.Is(o.Err, clientsession.ErrResultTooLarge) || (o.Handle != 1 && o.Handle != 2) {
				t.Fatalf("delivery %#v", o)
			}
		case clientsession.Ignored:
		default:
			t.Fatalf("output %#v", o)
		}
		// Either way the session goes on with what is left.
		if st := e.Status(); st.State != clientsession.StateConnected || st.Pending+st.Queries < 1 {
			t.Fatalf("status %+v", st)
		}
	})
}
