package gateway

import (
	"errors"
	"strconv"
	"strings"
	"testing"

	"github.com/zraft/zraft/domain/session"
	"github.com/zraft/zraft/protocol"
)

// FuzzGateway drives a Gateway and a real session.Machine with a random sequence of
// inputs: well-formed and mutated client messages from a few connections, disconnects,
// commits, failed and unknown-outcome proposals, reads, ticks, leadership changes and
// server requests. After every input the harness checks the invariants (a connection
// owns at most one session and vice versa, no output to a connection that is not open,
// every Send encodes and decodes, every Propose encodes); nothing may panic.
func FuzzGateway(f *testing.F) {
	f.Add([]byte{8, 1, 0, 0, 1, 4, 0, 7, 3, 0, 2, 4, 0, 1, 0, 3, 9, 1, 7, 9, 4, 0})
	f.Add([]byte{8, 1, 0, 1, 0, 0, 2, 0, 4, 2, 0, 1, 5, 0, 1, 0, 4, 7, 20, 4, 0, 8, 0})
	f.Add([]byte{8, 3, 0, 0, 0, 0, 0, 1, 4, 1, 0, 0, 8, 4, 0, 3, 6, 6, 0, 2, 1, 0, 2, 7, 1})
	f.Add([]byte{1, 2, 5, 0x7a, 0x72, 0x61, 0x66, 0x74, 8, 1, 2, 0, 3, 3, 10, 0, 2})
	f.Fuzz(func(t *testing.T, data []byte) {
		h, err := newHarness(Config{FlushInterval: 100, RedeliveryInterval: 150, MaxInFlight: 3}, session.Config{SessionTimeout: 2_000,
			LeaderGrace: 500, RedeliveryBase: 100, MaxPendingRequests: 4, MaxCachedResponses: 4}, func(string, ...any) {})
		if err != nil {
			t.Fatal(err)
		}
		fz := &fuzzer{h: h, data: data}
		for op := 0; len(fz.data) > 0 && op < 400; op++ {
			if err := fz.step(); err != nil && strings.HasPrefix(err.Error(), "invariant") {
				t.Fatalf("op %d: %v", op, err)
			}
		}
	})
}

type fuzzer struct {
	h    *harness
	data []byte
	term uint64
	ids  int
}

func (z *fuzzer) byte() byte {
	if len(z.data) == 0 {
		return 0
	}
	b := z.data[0]
	z.data = z.data[1:]
	return b
}

func (z *fuzzer) take(n int) []byte {
	n = min(n, len(z.data))
	b := z.data[:n:n]
	z.data = z.data[n:]
	return b
}

func (z *fuzzer) session() string { return "s-" + strconv.Itoa(int(z.byte()%6)) }

func (z *fuzzer) step() error {
	h := z.h
	rid := RoutingID(z.byte()%4 + 1)
	switch z.byte() % 12 {
	case 0, 1, 2:
		return z.message(rid)
	case 3:
		return h.step(Message{RoutingID: rid, Bytes: z.take(int(z.byte() % 40))})
	case 4:
		return h.step(ConnectionClosed{RoutingID: rid})
	case 5:
		return h.commit(int(z.byte()%4) + 1)
	case 6:
		return h.fail(int(z.byte()%3)+1, z.byte()%2 == 0)
	case 7:
		return h.serveReads(z.byte()%4 != 0)
	case 8:
		return h.tick(h.now + int64(z.byte())*10)
	case 9:
		b := z.byte()
		l := LeadershipChanged{IsLeader: b%2 == 1, Leader: protocol.MemberID("n" + strconv.Itoa(int(b%3))),
			Members: []protocol.Member{{ID: "n1", Endpoint: "tcp://127.0.0.1:1"}}}
		if b%2 == 1 {
			l.Leader = "n1"
		}
		if b%4 == 1 { // sometimes a new term
			z.term++
		}
		l.Term = z.term
		return h.step(l)
	case 10:
		return h.apply(session.Internal{At: h.now, Payload: []byte("push " + z.session() + " p")})
	default:
		// Misuse must not break the state either.
		switch z.byte() % 3 {
		case 0:
			return h.step(nil)
		case 1:
			return h.step(Applied{})
		default:
			return h.step(ReadDone{ID: uint64(z.byte() % 8)})
		}
	}
}

// message sends a well-formed client message, sometimes with one byte flipped.
func (z *fuzzer) message(rid RoutingID) error {
	var m protocol.ClientMessage
	newID := ""
	switch z.byte() % 9 {
	case 0:
		caps := protocol.Capabilities{{Key: "app", Value: "kv"}}
		switch z.byte() % 3 {
		case 1:
			caps = append(caps, protocol.Capability{Key: protocol.ExtensionCapabilityKey, Value: "1"})
		case 2:
			caps = append(caps, protocol.Capability{Key: "deny", Value: "yes"})
		}
		m = &protocol.CreateSession{Capabilities: caps, Nonce: protocol.Nonce(z.byte()) + 1}
		if z.byte()%8 != 0 {
			z.ids++
			newID = "s-" + strconv.Itoa(z.ids%8)
		}
	case 1:
		m = &protocol.ContinueSession{SessionID: protocol.SessionID(z.session()), Nonce: protocol.Nonce(z.byte()) + 1}
	case 2:
		m = &protocol.KeepAlive{Timestamp: protocol.Timestamp(z.byte())}
	case 3:
		payload := "set"
		if z.byte()%2 == 0 {
			payload = "push " + z.session() + " w"
		}
		m = &protocol.ClientRequest{RequestID: protocol.RequestID(z.byte() % 10), LowestPendingRequestID: protocol.RequestID(z.byte() % 10),
			Payload: []byte(payload)}
	case 4:
		m = &protocol.ServerRequestAck{RequestID: protocol.RequestID(z.byte() % 6)}
	case 5:
		m = &protocol.CloseSession{Reason: protocol.ClientShutdown}
	case 6:
		m = &protocol.ConnectionClosed{}
	default:
		q := &protocol.Query{CorrelationID: "c", Payload: []byte("q")}
		if lv := protocol.Consistency(z.byte() % 5); lv != 0 {
			q.Ext = &protocol.Extensions{Consistency: lv}
		}
		m = q
	}
	b, err := protocol.AppendClientMessage(nil, m)
	if err != nil {
		return errors.New("invariant: fuzzer built an unencodable message: " + err.Error())
	}
	if f := z.byte(); f%5 == 0 && len(b) > 0 {
		b[int(f)%len(b)] ^= z.byte() | 1
	}
	return z.h.step(Message{RoutingID: rid, Bytes: b, NewSessionID: newID})
}
