package zmtp

import (
	"bytes"
	"errors"
	"fmt"
	"runtime"
	"testing"
	"time"
)

// Tests of the Server's poller mode (WithPoller, server_poll.go). They run in both
// modes, like every test; the goroutine counts are checked in poller mode only.

// linkGoroutines counts the goroutines that serve one connection: handshakes and
// readers (serveConn), bursts, writers and finishes. The Server's own (accept loop,
// poller, sweeper) and other tests' are not counted.
func linkGoroutines() int {
	buf := make([]byte, 4<<20)
	buf = buf[:runtime.Stack(buf, true)]
	n := 0
	for _, g := range bytes.Split(buf, []byte("\n\n")) {
		for _, fn := range []string{"zmtp.(*Server).serveConn(", "zmtp.(*Server).burst(", "zmtp.(*link).write(", "zmtp.(*Server).finish("} {
			if bytes.Contains(g, []byte(fn)) {
				n++
				break
			}
		}
	}
	return n
}

// waitLinkGoroutines waits until at most want goroutines serve connections, failing
// after a while.
func waitLinkGoroutines(t *testing.T, want int, what string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		n := linkGoroutines()
		if n <= want {
			return
		}
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("%s: %d goroutines serve connections, want at most %d\n%s", what, n, want, ownStacks(buf[:runtime.Stack(buf, true)]))
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// A peer that sends half a frame and stalls costs a goroutine (a blocking read) only
// while it stalls, and the read deadline still closes it.
func TestServerHalfFrameStall(t *testing.T) {
	checkLeaks(t)
	ctx := testCtx(t)
	s := listen(t, WithHeartbeat(0, 500*time.Millisecond, 0))
	p, id := openedRaw(t, s)
	if pollerMode() {
		waitLinkGoroutines(t, 0, "idle link")
	}
	// A whole message first: it arrives, and the link goes idle again. The deadline of
	// the next frame starts after it arrived (goroutine mode: as soon as the reader
	// waits for that frame), so not before now.
	start := time.Now()
	if _, err := p.Write([]byte{0, 5, 'h', 'e', 'l', 'l', 'o'}); err != nil {
		t.Fatal(err)
	}
	if ev := waitKind(t, ctx, s.Recv, EventMessage); string(ev.Data) != "hello" {
		t.Fatalf("got %q", ev.Data)
	}
	// Now a header announcing 100 bytes, and 10 of them.
	if _, err := p.Write(append([]byte{0, 100}, make([]byte, 10)...)); err != nil {
		t.Fatal(err)
	}
	if pollerMode() {
		deadline := time.Now().Add(10 * time.Second)
		for linkGoroutines() == 0 && time.Now().Before(deadline) {
			time.Sleep(time.Millisecond)
		}
		if n := linkGoroutines(); n != 1 {
			t.Fatalf("a half-read frame runs %d goroutines, want 1", n)
		}
	}
	ev := waitKind(t, ctx, s.Recv, EventClosed)
	if ev.RoutingID != id || !errors.Is(ev.Reason, ErrHeartbeatTimeout) {
		t.Fatalf("closed %+v, want a heartbeat timeout", ev)
	}
	if d := time.Since(start); d < 500*time.Millisecond {
		t.Fatalf("closed after %v, before the read deadline", d)
	}
	p.expectClosed(t)
	if pollerMode() {
		waitLinkGoroutines(t, 0, "after the close")
	}
}

// Many frames in one TCP segment (commands among them, frames across the read buffer's
// boundaries) all arrive, in order, from one burst.
func TestServerManyFramesInOneSegment(t *testing.T) {
	checkLeaks(t)
	ctx := testCtx(t)
	s := listen(t, WithHeartbeat(0, time.Minute, 0))
	p, id := openedRaw(t, s)
	var seg []byte
	const n = 300
	for i := range n {
		msg := fmt.Appendf(nil, "message %d", i)
		if i%37 == 0 {
			msg = bytes.Repeat(msg, 40) // long frames, over 255 bytes and the small buffer
		}
		var hdr [9]byte
		seg = append(seg, frameHeader(&hdr, 0, len(msg))...)
		seg = append(seg, msg...)
		if i == n/2 {
			seg = appendCommand(seg, cmdPing, []byte{0, 0, 'm', 'i', 'd'})
		}
	}
	if _, err := p.Write(seg); err != nil {
		t.Fatal(err)
	}
	for i := range n {
		ev := waitKind(t, ctx, s.Recv, EventMessage)
		want := fmt.Appendf(nil, "message %d", i)
		if i%37 == 0 {
			want = bytes.Repeat(want, 40)
		}
		if ev.RoutingID != id || !bytes.Equal(ev.Data, want) {
			t.Fatalf("message %d: %.40q from %d", i, ev.Data, ev.RoutingID)
		}
	}
	f, err := p.fr.next()
	if err != nil {
		t.Fatal(err)
	}
	if name, data, _ := parseCommand(f.body); name != cmdPong || string(data) != "mid" {
		t.Fatalf("got %q %q, want the PONG", name, data)
	}
}

// An idle link whose peer falls silent past the heartbeat timeout is disconnected,
// though no read waits on it.
func TestServerIdleLinkTimesOut(t *testing.T) {
	checkLeaks(t)
	ctx := testCtx(t)
	const timeout = 400 * time.Millisecond
	s := listen(t, WithHeartbeat(0, timeout, 0))
	p, id := openedRaw(t, s)
	silent := time.Now() // the server's silence clock starts once it has read "hi"
	if _, err := p.Write([]byte{0, 2, 'h', 'i'}); err != nil {
		t.Fatal(err)
	}
	waitKind(t, ctx, s.Recv, EventMessage)
	if pollerMode() {
		waitLinkGoroutines(t, 0, "idle link")
	}
	ev := waitKind(t, ctx, s.Recv, EventClosed)
	if ev.RoutingID != id || !errors.Is(ev.Reason, ErrHeartbeatTimeout) {
		t.Fatalf("closed %+v, want a heartbeat timeout", ev)
	}
	if d := time.Since(silent); d < timeout {
		t.Fatalf("closed after %v of silence, timeout %v", d, timeout)
	}
	p.expectClosed(t)
}

// 1,000 idle links, PINGed by the Server, hold no goroutine.
func TestServerIdleLinksHoldNoGoroutines(t *testing.T) {
	if !pollerMode() {
		t.Skip("goroutine-per-connection mode: one goroutine per link, by design")
	}
	checkLeaks(t)
	ctx := testCtx(t)
	s := listen(t, WithHeartbeat(100*time.Millisecond, time.Minute, 0), WithMaxConnections(2000))
	const n = 1000
	peers := make([]*rawPeer, n)
	for i := range peers {
		peers[i] = dialRaw(t, s.Addr())
		if _, err := peers[i].handshakeAs(socketClient); err != nil {
			t.Fatal(err)
		}
	}
	for range n {
		waitKind(t, ctx, s.Recv, EventOpened)
	}
	waitLinkGoroutines(t, 0, "1,000 idle links")
	// Through a few heartbeat intervals: the PINGs go out without goroutines.
	most := 0
	for end := time.Now().Add(500 * time.Millisecond); time.Now().Before(end); time.Sleep(5 * time.Millisecond) {
		most = max(most, linkGoroutines())
	}
	if most > 0 {
		t.Fatalf("1,000 idle links ran up to %d goroutines at once", most)
	}
	for _, p := range peers[:10] {
		f, err := p.fr.next()
		if err != nil {
			t.Fatal(err)
		}
		if name, _, _ := parseCommand(f.body); name != cmdPing {
			t.Fatalf("got %q, want a PING", name)
		}
	}
}

// The adaptive linger, end to end: a peer that sends every 20 ms keeps its burst's
// goroutine between messages (read by a blocking read, not through the epoll set); once
// it stops, the goroutine ends within the linger's bound; a peer that sends every
// 400 ms, as a keep-alive does, holds none between its messages from its second on.
func TestServerLingerFollowsPeer(t *testing.T) {
	checkLeaks(t)
	ctx := testCtx(t)
	s := listen(t, WithHeartbeat(0, time.Minute, 0))
	send := func(p *rawPeer, id RoutingID) {
		t.Helper()
		if _, err := p.Write([]byte{0, 5, 'h', 'e', 'l', 'l', 'o'}); err != nil {
			t.Fatal(err)
		}
		if ev := waitKind(t, ctx, s.Recv, EventMessage); ev.RoutingID != id {
			t.Fatalf("message from %d, want %d", ev.RoutingID, id)
		}
	}

	busy, busyID := openedRaw(t, s)
	const n, skip = 30, 5 // the first messages teach the link its peer's pace
	held := 0
	for i := range n {
		send(busy, busyID)
		time.Sleep(5 * time.Millisecond)
		if i >= skip && linkGoroutines() == 1 {
			held++
		}
		time.Sleep(15 * time.Millisecond)
	}
	if pollerMode() {
		if held < (n-skip)*3/4 {
			t.Fatalf("5 ms after a message of a peer sending every 20 ms, its goroutine was held %d times of %d", held, n-skip)
		}
		start := time.Now()
		waitLinkGoroutines(t, 0, "after the busy peer stopped")
		if d := time.Since(start); d > maxPollLinger+time.Second {
			t.Fatalf("the busy peer's goroutine ended %v after its last message, more than the linger's bound %v", d, maxPollLinger)
		}
	}
	_ = busy.Close()
	waitKind(t, ctx, s.Recv, EventClosed)

	slow, slowID := openedRaw(t, s)
	for i := range 4 {
		if i > 0 {
			time.Sleep(400 * time.Millisecond)
		}
		send(slow, slowID)
		if !pollerMode() || i == 0 {
			continue // a new link lingers 1 ms after its first message
		}
		// A linger would last the gap (400 ms) or more; without one, the burst ends
		// as soon as it finds nothing.
		deadline := time.Now().Add(250 * time.Millisecond)
		for linkGoroutines() != 0 {
			if time.Now().After(deadline) {
				t.Fatalf("message %d of a peer sending every 400 ms: its goroutine still runs after 250 ms", i+1)
			}
			time.Sleep(2 * time.Millisecond)
		}
	}
}
