package zmtp

import (
	"errors"
	"fmt"
	"testing"
	"time"
)

func TestRoundTrip(t *testing.T) {
	checkLeaks(t)
	ctx := testCtx(t)
	s := listen(t)
	events := echo(s)
	c := newClient(t, s.Addr())
	waitKind(t, ctx, c.Recv, EventUp)
	for i := range 100 {
		msg := fmt.Appendf(nil, "hello %d", i)
		if i == 50 {
			msg = make([]byte, 300_000) // a long frame, bigger than one read chunk
		}
		if err := roundTrip(ctx, c, msg); err != nil {
			t.Fatal(err)
		}
	}
	if ev := <-events; ev.Kind != EventOpened || ev.RoutingID != 1 {
		t.Fatalf("first event %+v", ev)
	}
	_ = c.Close()
	ev := <-events
	if ev.Kind != EventClosed || ev.RoutingID != 1 || ev.Reason == nil {
		t.Fatalf("after client close: %+v", ev)
	}
}

func TestServerSendErrors(t *testing.T) {
	checkLeaks(t)
	ctx := testCtx(t)
	s := listen(t, WithMaxMessageSize(1000))
	if err := s.Send(42, []byte("x")); !errors.Is(err, ErrUnknownPeer) {
		t.Fatalf("send to unknown: %v", err)
	}
	if err := s.Send(42, make([]byte, 1001)); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("send too large: %v", err)
	}
	if err := s.Disconnect(42); !errors.Is(err, ErrUnknownPeer) {
		t.Fatalf("disconnect unknown: %v", err)
	}
	c := newClient(t, s.Addr())
	id := waitKind(t, ctx, s.Recv, EventOpened).RoutingID
	waitKind(t, ctx, c.Recv, EventUp)
	if err := s.Disconnect(id); err != nil {
		t.Fatal(err)
	}
	ev := waitKind(t, ctx, s.Recv, EventClosed)
	if ev.RoutingID != id || !errors.Is(ev.Reason, ErrDisconnected) {
		t.Fatalf("closed event %+v", ev)
	}
	if err := s.Send(id, []byte("x")); !errors.Is(err, ErrUnknownPeer) {
		t.Fatalf("send after disconnect: %v", err)
	}
	waitKind(t, ctx, c.Recv, EventDown)
	// The client comes back by itself, under a new routing id.
	waitKind(t, ctx, c.Recv, EventUp)
	if ev := waitKind(t, ctx, s.Recv, EventOpened); ev.RoutingID <= id {
		t.Fatalf("routing id reused or decreasing: %d after %d", ev.RoutingID, id)
	}
	_ = s.Close()
	if err := s.Send(id, nil); !errors.Is(err, ErrClosed) {
		t.Fatalf("send after close: %v", err)
	}
	if _, err := s.Recv(ctx); !errors.Is(err, ErrClosed) {
		t.Fatalf("recv after close: %v", err)
	}
}

func TestListenBadEndpoint(t *testing.T) {
	for _, ep := range []string{"127.0.0.1:0", "ipc:///tmp/x", "tcp://127.0.0.1", "tcp://127.0.0.1:99999"} {
		if _, err := Listen(testCtx(t), ep); !errors.Is(err, ErrEndpoint) {
			t.Errorf("%q: %v", ep, err)
		}
	}
	if _, err := Listen(testCtx(t), "tcp://127.0.0.1:0", WithSendQueue(0)); !errors.Is(err, ErrConfig) {
		t.Errorf("bad config: %v", err)
	}
}

// A peer that stops reading overflows its queue and is disconnected, reported, and the
// Send that overflowed says so; nothing is dropped silently.
func TestServerOverflowDisconnects(t *testing.T) {
	checkLeaks(t)
	ctx := testCtx(t)
	s := listen(t, WithSendQueue(8), WithHeartbeat(time.Second, 20*time.Second, 0))
	p := dialRaw(t, s.Addr())
	if f, err := p.handshakeAs(socketClient); err != nil || !f.isCommand() {
		t.Fatalf("handshake: %v", err)
	}
	id := waitKind(t, ctx, s.Recv, EventOpened).RoutingID
	big := make([]byte, 64<<10)
	var err error
	for i := 0; i < 100_000 && err == nil; i++ {
		err = s.Send(id, big)
	}
	if !errors.Is(err, ErrOverflow) {
		t.Fatalf("send to a stalled peer: %v", err)
	}
	ev := waitKind(t, ctx, s.Recv, EventClosed)
	if ev.RoutingID != id || !errors.Is(ev.Reason, ErrOverflow) {
		t.Fatalf("closed event %+v", ev)
	}
}

func TestServerMaxConnections(t *testing.T) {
	checkLeaks(t)
	ctx := testCtx(t)
	s := listen(t, WithMaxConnections(2))
	echo(s)
	a := newClient(t, s.Addr())
	waitKind(t, ctx, a.Recv, EventUp)
	dialRaw(t, s.Addr()) // takes the second place while it handshakes
	third := dialRaw(t, s.Addr())
	third.expectClosed(t)
	if err := roundTrip(ctx, a, []byte("still served")); err != nil {
		t.Fatal(err)
	}
}

// With a full Recv queue the server stops reading (backpressure) instead of dropping:
// every message arrives, in order, once the application reads again.
func TestServerRecvBackpressure(t *testing.T) {
	checkLeaks(t)
	ctx := testCtx(t)
	s := listen(t, WithRecvQueue(2))
	c := newClient(t, s.Addr())
	waitKind(t, ctx, c.Recv, EventUp)
	const n = 500
	for i := range n {
		if err := c.Send(ctx, fmt.Appendf(nil, "m%d", i)); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(200 * time.Millisecond) // the server's reader is now blocked on the queue
	for i := 0; i < n; {
		ev, err := s.Recv(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if ev.Kind != EventMessage {
			continue
		}
		if want := fmt.Sprintf("m%d", i); string(ev.Data) != want {
			t.Fatalf("got %q, want %q", ev.Data, want)
		}
		i++
	}
}
