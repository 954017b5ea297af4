package zmtp

import (
	"context"
	"errors"
	"net"
	"strings"
	"testing"
	"time"
)

func TestClientSendWithoutConnection(t *testing.T) {
	checkLeaks(t)
	c := newClient(t, "")
	if err := c.Send(testCtx(t), []byte("x")); !errors.Is(err, ErrNotConnected) {
		t.Fatalf("send: %v", err)
	}
	if err := c.Connect("tcp://:5"); !errors.Is(err, ErrEndpoint) {
		t.Fatalf("connect without host: %v", err)
	}
	_ = c.Close()
	if err := c.Send(testCtx(t), []byte("x")); !errors.Is(err, ErrClosed) {
		t.Fatalf("send after close: %v", err)
	}
	if err := c.Connect("tcp://127.0.0.1:5"); !errors.Is(err, ErrClosed) {
		t.Fatalf("connect after close: %v", err)
	}
}

func TestClientSwitchesEndpoint(t *testing.T) {
	checkLeaks(t)
	ctx := testCtx(t)
	a, b := listen(t), listen(t)
	echo(a)
	echo(b)
	c := newClient(t, a.Addr())
	if ev := waitKind(t, ctx, c.Recv, EventUp); ev.Endpoint != a.Addr() {
		t.Fatalf("up on %s", ev.Endpoint)
	}
	if err := roundTrip(ctx, c, []byte("to a")); err != nil {
		t.Fatal(err)
	}
	if err := c.Connect(b.Addr()); err != nil {
		t.Fatal(err)
	}
	ev := waitKind(t, ctx, c.Recv, EventDown)
	if ev.Endpoint != a.Addr() || !errors.Is(ev.Reason, ErrDisconnected) {
		t.Fatalf("down %+v", ev)
	}
	if ev := waitKind(t, ctx, c.Recv, EventUp); ev.Endpoint != b.Addr() {
		t.Fatalf("up on %s", ev.Endpoint)
	}
	if err := roundTrip(ctx, c, []byte("to b")); err != nil {
		t.Fatal(err)
	}
}

// After the server goes away and comes back on the same address, the client reconnects.
func TestClientReconnects(t *testing.T) {
	checkLeaks(t)
	ctx := testCtx(t)
	s := listen(t)
	echo(s)
	addr := s.Addr()
	c := newClient(t, addr, WithReconnectBackoff(10*time.Millisecond, 200*time.Millisecond))
	waitKind(t, ctx, c.Recv, EventUp)
	_ = s.Close()
	waitKind(t, ctx, c.Recv, EventDown)
	time.Sleep(300 * time.Millisecond) // a few failed attempts, backing off
	s2, err := Listen(ctx, addr, serverModeOpts()...)
	if err != nil {
		t.Skipf("could not re-bind %s: %v", addr, err)
	}
	defer func() { _ = s2.Close() }()
	echo(s2)
	waitKind(t, ctx, c.Recv, EventUp)
	if err := roundTrip(ctx, c, []byte("again")); err != nil {
		t.Fatal(err)
	}
}

// fakeServer accepts TCP connections and runs fn on each; it stops with the test.
func fakeServer(t *testing.T, fn func(net.Conn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	t.Cleanup(func() { _ = ln.Close(); <-done })
	go func() {
		defer close(done)
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			fn(nc)
			_ = nc.Close()
		}
	}()
	return "tcp://" + ln.Addr().String()
}

// serverHandshake plays the server side of a handshake announcing socketType.
func serverHandshake(nc net.Conn, socketType string) *frameReader {
	_ = nc.SetDeadline(time.Now().Add(10 * time.Second))
	fr := newFrameReader(nc, 1<<20)
	_, _ = nc.Write(appendGreeting(nil, false))
	var g [greetingSize]byte
	_, _ = readFull(fr, g[:])
	_, _ = nc.Write(appendCommand(nil, cmdReady, appendMetadata(nil, property{propSocketType, []byte(socketType)})))
	_, _ = fr.next()
	return fr
}

func TestClientRejectsNonServerPeers(t *testing.T) {
	checkLeaks(t)
	ctx := testCtx(t)
	attempts := make(chan struct{}, 100)
	router := fakeServer(t, func(nc net.Conn) {
		serverHandshake(nc, "ROUTER")
		select {
		case attempts <- struct{}{}:
		default:
		}
	})
	c := newClient(t, router, WithReconnectBackoff(10*time.Millisecond, 50*time.Millisecond))
	for range 3 { // it keeps retrying, with backoff, but never comes up
		select {
		case <-attempts:
		case <-ctx.Done():
			t.Fatal("no attempts")
		}
	}
	// Every attempt is reported as failed for the socket type; none comes up.
	short, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	failures := 0
	for {
		ev, err := c.Recv(short)
		if err != nil {
			break
		}
		if ev.Kind != EventDialFailed || !errors.Is(ev.Reason, ErrSocketType) {
			t.Fatalf("event from a ROUTER peer: %+v", ev)
		}
		failures++
	}
	if failures < 3 {
		t.Fatalf("%d failures reported for at least 3 attempts", failures)
	}
}

// A server that completes the handshake and then never answers is declared dead.
func TestClientDetectsDeadServer(t *testing.T) {
	checkLeaks(t)
	ctx := testCtx(t)
	release := make(chan struct{})
	mute := fakeServer(t, func(nc net.Conn) {
		serverHandshake(nc, socketServer)
		<-release
	})
	defer close(release)
	c := newClient(t, mute, WithHeartbeat(50*time.Millisecond, 500*time.Millisecond, 0))
	waitKind(t, ctx, c.Recv, EventUp)
	ev := waitKind(t, ctx, c.Recv, EventDown)
	if !errors.Is(ev.Reason, ErrHeartbeatTimeout) || !strings.HasPrefix(ev.Endpoint, "tcp://") {
		t.Fatalf("down %+v", ev)
	}
}

// Send waits while the queue is full, and gives up with the caller's context.
func TestClientSendWaitsOnFullQueue(t *testing.T) {
	checkLeaks(t)
	ctx := testCtx(t)
	release := make(chan struct{})
	deaf := fakeServer(t, func(nc net.Conn) {
		serverHandshake(nc, socketServer)
		<-release // never reads again
	})
	defer close(release)
	c := newClient(t, deaf, WithSendQueue(1), WithHeartbeat(0, 0, 0))
	waitKind(t, ctx, c.Recv, EventUp)
	big := make([]byte, 1<<20)
	short, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
	defer cancel()
	var err error
	for i := 0; i < 1000 && err == nil; i++ {
		err = c.Send(short, big)
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("send to a deaf server: %v", err)
	}
}

// A refused connection is reported at once, and the client keeps retrying.
func TestClientReportsDialFailure(t *testing.T) {
	checkLeaks(t)
	ctx := testCtx(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := "tcp://" + ln.Addr().String()
	_ = ln.Close() // a closed port: connecting is refused
	c := newClient(t, addr, WithReconnectBackoff(10*time.Millisecond, 50*time.Millisecond), WithDialTimeout(time.Minute))
	for range 2 {
		ev := waitKind(t, ctx, c.Recv, EventDialFailed)
		if ev.Endpoint != addr || ev.Reason == nil {
			t.Fatalf("dial failure %+v", ev)
		}
	}
}
