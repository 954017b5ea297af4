package clientsession_test

import (
	"testing"

	"github.com/zraft/zraft/domain/clientsession"
	"github.com/zraft/zraft/protocol"
)

// BenchmarkCommandRoundTrip: one Submit (encoded and sent) and its ClientResponse
// (decoded and delivered) through a connected engine.
func BenchmarkCommandRoundTrip(b *testing.B) {
	e := connected(b, baseConfig())
	payload := make([]byte, 64)
	resp := make([]byte, 0, 128)
	b.ReportAllocs()
	for i := 1; b.Loop(); i++ {
		if _, err := e.Step(1, clientsession.Submit{Handle: clientsession.Handle(i), Payload: payload}); err != nil {
			b.Fatal(err)
		}
		var err error
		resp, err = protocol.AppendServerMessage(resp[:0], &protocol.ClientResponse{RequestID: protocol.RequestID(i), Result: payload})
		if err != nil {
			b.Fatal(err)
		}
		out, err := e.Step(1, clientsession.Received{Conn: 1, Bytes: resp})
		if err != nil || len(out) != 1 {
			b.Fatalf("outputs %v, err %v", out, err)
		}
	}
}

// BenchmarkReconnectResend1000: a reconnection that re-sends 1000 pending commands.
func BenchmarkReconnectResend1000(b *testing.B) {
	cfg := baseConfig()
	cfg.KeepAliveTimeout = 1 << 39
	e := connected(b, cfg)
	for h := 1; h <= 1000; h++ {
		if _, err := e.Step(1, clientsession.Submit{Handle: clientsession.Handle(h), Payload: make([]byte, 64)}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	for b.Loop() {
		st := e.Status()
		outs, _ := e.Step(1, clientsession.ConnectionDown{Conn: st.Conn})
		conn := outs[len(outs)-1].(clientsession.Connect).Conn
		if _, err := e.Step(1, clientsession.ConnectionUp{Conn: conn, Nonce: 9}); err != nil {
			b.Fatal(err)
		}
		out, _ := e.Step(1, received(conn, &protocol.SessionContinued{Nonce: 9}))
		if len(out) != 1001 {
			b.Fatalf("%d outputs, want the event and 1000 sends", len(out))
		}
	}
}

// BenchmarkRoundTripWith1000Pending: what the client's owner goroutine does per answer
// while 1000 other commands wait: Submit, NextDeadline, the answer, NextDeadline.
// NextDeadline runs after every event, so its cost must not grow with what is pending.
func BenchmarkRoundTripWith1000Pending(b *testing.B) {
	cfg := baseConfig()
	cfg.KeepAliveTimeout = 1 << 39
	e := connected(b, cfg)
	payload := make([]byte, 64)
	for h := 1; h <= 1000; h++ {
		if _, err := e.Step(1, clientsession.Submit{Handle: clientsession.Handle(h), Payload: payload}); err != nil {
			b.Fatal(err)
		}
	}
	resp := make([]byte, 0, 128)
	b.ReportAllocs()
	for i := 1001; b.Loop(); i++ {
		if _, err := e.Step(1, clientsession.Submit{Handle: clientsession.Handle(i), Payload: payload}); err != nil {
			b.Fatal(err)
		}
		if _, ok := e.NextDeadline(); !ok {
			b.Fatal("no deadline")
		}
		var err error
		resp, err = protocol.AppendServerMessage(resp[:0], &protocol.ClientResponse{RequestID: protocol.RequestID(i), Result: payload})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := e.Step(1, clientsession.Received{Conn: 1, Bytes: resp}); err != nil {
			b.Fatal(err)
		}
		if _, ok := e.NextDeadline(); !ok {
			b.Fatal("no deadline")
		}
	}
}

// BenchmarkNextDeadline1000: NextDeadline alone with 1000 commands pending.
func BenchmarkNextDeadline1000(b *testing.B) {
	cfg := baseConfig()
	cfg.KeepAliveTimeout = 1 << 39
	e := connected(b, cfg)
	for h := 1; h <= 1000; h++ {
		if _, err := e.Step(1, clientsession.Submit{Handle: clientsession.Handle(h), Payload: make([]byte, 64)}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, ok := e.NextDeadline(); !ok {
			b.Fatal("no deadline")
		}
	}
}
