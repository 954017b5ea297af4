package zmtp

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"
	"time"
)

// Peers that break the rules are closed and never become an Opened event.
func TestServerRejectsBadPeers(t *testing.T) {
	checkLeaks(t)
	s := listen(t, WithHandshakeTimeout(500*time.Millisecond))
	events := echo(s)
	t.Run("random bytes", func(t *testing.T) {
		p := dialRaw(t, s.Addr())
		junk := bytes.Repeat([]byte{0x13, 0x37, 0xFE}, 40)
		_, _ = p.Write(junk)
		p.expectClosed(t)
	})
	for _, typ := range []string{"DEALER", "ROUTER", "SERVER", "BOGUS\x00\xff"} {
		t.Run("socket type "+typ, func(t *testing.T) {
			p := dialRaw(t, s.Addr())
			f, err := p.handshakeAs(typ)
			if err != nil {
				t.Fatal(err)
			}
			// Our READY comes first, then an ERROR, then the close.
			name, _, _ := parseCommand(f.body)
			if name != cmdReady {
				t.Fatalf("got %q", name)
			}
			f, err = p.fr.next()
			if err != nil {
				t.Fatalf("want ERROR, got %v", err)
			}
			if name, _, _ := parseCommand(f.body); name != cmdError {
				t.Fatalf("got %q, want ERROR", name)
			}
			p.expectClosed(t)
		})
	}
	t.Run("stall mid-handshake", func(t *testing.T) {
		p := dialRaw(t, s.Addr())
		_, _ = p.Write(appendGreeting(nil, false)[:20])
		p.expectClosed(t)
	})
	t.Run("silent", func(t *testing.T) {
		p := dialRaw(t, s.Addr())
		p.expectClosed(t)
	})
	select {
	case ev := <-events:
		t.Fatalf("a bad peer produced %+v", ev)
	default:
	}
}

func openedRaw(t *testing.T, s *Server) (*rawPeer, RoutingID) {
	t.Helper()
	p := dialRaw(t, s.Addr())
	if _, err := p.handshakeAs(socketClient); err != nil {
		t.Fatal(err)
	}
	return p, waitKind(t, testCtx(t), s.Recv, EventOpened).RoutingID
}

func TestServerClosesOnBadFrames(t *testing.T) {
	checkLeaks(t)
	ctx := testCtx(t)
	s := listen(t, WithMaxMessageSize(1000))
	cases := []struct {
		name string
		data []byte
		want error
	}{
		{"oversize", []byte{flagLong, 0, 0, 0, 0x40, 0, 0, 0, 0}, ErrTooLarge},
		{"just over", append([]byte{flagLong, 0, 0, 0, 0, 0, 0, 0x03, 0xE9}, make([]byte, 1001)...), ErrTooLarge},
		{"multipart", []byte{flagMore, 1, 'a', 0, 1, 'b'}, ErrMultipart},
		{"reserved flags", []byte{0x80, 0}, ErrProtocol},
		{"huge command", []byte{flagCommand | flagLong, 0, 0, 0, 0, 0, 2, 0, 0}, ErrProtocol},
		{"bad ping", appendCommand(nil, cmdPing, []byte{1}), ErrProtocol},
		{"peer error", appendCommand(nil, cmdError, []byte{3, 'b', 'y', 'e'}), ErrPeerError},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p, id := openedRaw(t, s)
			if _, err := p.Write(tc.data); err != nil {
				t.Fatal(err)
			}
			ev := waitKind(t, ctx, s.Recv, EventClosed)
			if ev.RoutingID != id || !errors.Is(ev.Reason, tc.want) {
				t.Fatalf("closed %+v, want reason %v", ev, tc.want)
			}
			p.expectClosed(t)
		})
	}
}

func TestServerHeartbeats(t *testing.T) {
	checkLeaks(t)
	ctx := testCtx(t)
	s := listen(t, WithHeartbeat(100*time.Millisecond, 3*time.Second, 5*time.Second))
	p, id := openedRaw(t, s)
	ping := appendCommand(nil, cmdPing, []byte{0, 0, 'c', 't', 'x'}) // no TTL
	if _, err := p.Write(ping); err != nil {
		t.Fatal(err)
	}
	var sawPing, sawPong bool
	for !sawPing || !sawPong {
		f, err := p.fr.next()
		if err != nil {
			t.Fatal(err)
		}
		name, data, err := parseCommand(f.body)
		if err != nil {
			t.Fatal(err)
		}
		switch name {
		case cmdPong:
			if string(data) != "ctx" {
				t.Fatalf("PONG context %q", data)
			}
			sawPong = true
		case cmdPing:
			ttl, _, err := parsePing(data)
			if err != nil || ttl != 50 {
				t.Fatalf("PING ttl %d, %v", ttl, err)
			}
			sawPing = true
		}
	}
	// Now fall silent: the server must time us out.
	ev := waitKind(t, ctx, s.Recv, EventClosed)
	if ev.RoutingID != id || !errors.Is(ev.Reason, ErrHeartbeatTimeout) {
		t.Fatalf("closed %+v", ev)
	}
}

// A peer's TTL shortens how long it may stay silent.
func TestServerHonoursPeerTTL(t *testing.T) {
	checkLeaks(t)
	ctx := testCtx(t)
	s := listen(t, WithHeartbeat(0, time.Minute, 0))
	p, id := openedRaw(t, s)
	var ping [2]byte
	binary.BigEndian.PutUint16(ping[:], 3) // 300 ms
	start := time.Now()
	if _, err := p.Write(appendCommand(nil, cmdPing, ping[:])); err != nil {
		t.Fatal(err)
	}
	ev := waitKind(t, ctx, s.Recv, EventClosed)
	if ev.RoutingID != id || !errors.Is(ev.Reason, ErrHeartbeatTimeout) {
		t.Fatalf("closed %+v", ev)
	}
	if time.Since(start) > 30*time.Second {
		t.Fatal("TTL ignored")
	}
}
