package zmtp

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

// Messages queued before Flush are on the wire when it returns: closing the Client right
// after loses none of them.
func TestClientFlushBeforeClose(t *testing.T) {
	checkLeaks(t)
	ctx := testCtx(t)
	s := listen(t)
	c := newClient(t, s.Addr())
	if err := c.Flush(ctx); !errors.Is(err, ErrNotConnected) && err != nil {
		t.Fatalf("flush before up: %v", err)
	}
	waitKind(t, ctx, c.Recv, EventUp)
	const n = 200
	body := bytes.Repeat([]byte("x"), 20_000) // 4 MB in all: more than socket buffers hold
	for i := range n {
		if err := c.Send(ctx, append(fmt.Appendf(nil, "%04d", i), body...)); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.Flush(ctx); err != nil {
		t.Fatalf("flush: %v", err)
	}
	_ = c.Close()
	got := 0
	for got < n {
		ev, err := s.Recv(ctx)
		if err != nil {
			t.Fatalf("after %d messages: %v", got, err)
		}
		switch ev.Kind {
		case EventMessage:
			if want := fmt.Sprintf("%04d", got); string(ev.Data[:4]) != want {
				t.Fatalf("message %q, want %s", ev.Data[:4], want)
			}
			got++
		case EventClosed:
			t.Fatalf("closed after %d of %d messages: %v", got, n, ev.Reason)
		}
	}
	if err := c.Flush(ctx); !errors.Is(err, ErrClosed) {
		t.Fatalf("flush after close: %v", err)
	}
}

// The last messages before DisconnectAfterFlush reach the client, then the connection
// ends with ErrDisconnected; Send refuses messages after it.
func TestServerDisconnectAfterFlush(t *testing.T) {
	checkLeaks(t)
	ctx := testCtx(t)
	s := listen(t)
	c := newClient(t, s.Addr(), WithReconnectBackoff(time.Minute, time.Minute))
	opened := waitKind(t, ctx, s.Recv, EventOpened)
	waitKind(t, ctx, c.Recv, EventUp)
	const n = 100
	body := bytes.Repeat([]byte("y"), 32_000)
	for i := range n {
		if err := s.Send(opened.RoutingID, append(fmt.Appendf(nil, "%04d", i), body...)); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.DisconnectAfterFlush(opened.RoutingID, 30*time.Second); err != nil {
		t.Fatal(err)
	}
	if err := s.Send(opened.RoutingID, []byte("late")); !errors.Is(err, ErrUnknownPeer) {
		t.Fatalf("send after DisconnectAfterFlush: %v", err)
	}
	for i := 0; ; {
		ev, err := c.Recv(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if ev.Kind == EventDown {
			if i != n {
				t.Fatalf("down after %d of %d messages: %v", i, n, ev.Reason)
			}
			break
		}
		if ev.Kind == EventMessage {
			if want := fmt.Sprintf("%04d", i); string(ev.Data[:4]) != want {
				t.Fatalf("message %q, want %s", ev.Data[:4], want)
			}
			i++
		}
	}
	closed := waitKind(t, ctx, s.Recv, EventClosed)
	if closed.RoutingID != opened.RoutingID || !errors.Is(closed.Reason, ErrDisconnected) {
		t.Fatalf("closed %+v", closed)
	}
	if err := s.DisconnectAfterFlush(opened.RoutingID, time.Second); !errors.Is(err, ErrUnknownPeer) {
		t.Fatalf("again: %v", err)
	}
}

// A peer that never closes its side is disconnected when the linger bound ends, long
// before the heartbeat timeout would.
func TestServerDisconnectAfterFlushBounded(t *testing.T) {
	checkLeaks(t)
	ctx := testCtx(t)
	s := listen(t, WithHeartbeat(0, time.Hour, 0))
	p := dialRaw(t, s.Addr())
	if _, err := p.handshakeAs(socketClient); err != nil {
		t.Fatal(err)
	}
	opened := waitKind(t, ctx, s.Recv, EventOpened)
	if err := s.Send(opened.RoutingID, []byte("last words")); err != nil {
		t.Fatal(err)
	}
	if err := s.DisconnectAfterFlush(opened.RoutingID, 100*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	f, err := p.fr.next()
	if err != nil || string(f.body) != "last words" {
		t.Fatalf("last message %q, %v", f.body, err)
	}
	closed := waitKind(t, ctx, s.Recv, EventClosed)
	if !errors.Is(closed.Reason, ErrDisconnected) || !strings.Contains(closed.Reason.Error(), "linger") {
		t.Fatalf("closed %+v, want the linger bound", closed)
	}
	p.expectClosed(t)
}
