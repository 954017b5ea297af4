package client

import (
	"fmt"
	"testing"
	"time"

	"github.com/zraft/zraft/client/internal/testserver"
)

// readN reads n server requests and checks they are 1..n in order with their payloads.
func readN(t *testing.T, c *Client, from, n int) {
	t.Helper()
	timeout := time.After(30 * time.Second)
	for want := from; want < from+n; want++ {
		select {
		case r, ok := <-c.ServerRequests():
			if !ok {
				t.Fatalf("channel closed before request %d", want)
			}
			if r.ID != int64(want) || string(r.Payload) != fmt.Sprint("job-", want) {
				t.Fatalf("got request %d %q, want %d", r.ID, r.Payload, want)
			}
		case <-timeout:
			t.Fatalf("no request %d", want)
		}
	}
}

func TestServerRequestsInOrderAcrossFailover(t *testing.T) {
	checkLeaks(t)
	cl := startCluster(t, testserver.Config{Members: 3, Redelivery: 50 * time.Millisecond})
	c := dial(t, cl.Endpoints())
	sid := status(t, c).SessionID
	push := func(from, to int) {
		for i := from; i <= to; i++ {
			if !cl.Push(sid, fmt.Append(nil, "job-", i)) {
				t.Fatal("no session")
			}
		}
	}
	push(1, 20)
	readN(t, c, 1, 10)
	cl.Member(0).Kill() // requests 11..20 may be in flight, acknowledged or not
	push(21, 30)        // addressed while no member carries the session
	cl.SetLeader(1)
	readN(t, c, 11, 20)
	cl.SetLeader(2) // step-down while connected
	push(31, 40)
	readN(t, c, 31, 10)
	eventually(t, "every request acknowledged", func() bool { return cl.Unacknowledged(sid) == 0 })
	select {
	case r := <-c.ServerRequests():
		t.Fatalf("request %d delivered twice", r.ID)
	case <-time.After(200 * time.Millisecond): // redeliveries had time to come in
	}
}

func TestServerRequestsBackpressure(t *testing.T) {
	checkLeaks(t)
	cl := startCluster(t, testserver.Config{Members: 1, Redelivery: 50 * time.Millisecond})
	c := dial(t, cl.Endpoints(), WithServerRequestBuffer(2))
	sid := status(t, c).SessionID
	for i := 1; i <= 30; i++ {
		cl.Push(sid, fmt.Append(nil, "job-", i))
	}
	// The application reads nothing: the client takes what fits and defers the rest,
	// unacknowledged, so the cluster still holds it.
	eventually(t, "deferrals", func() bool { return status(t, c).ServerRequestsDeferred > 0 })
	if n := cl.Unacknowledged(sid); n < 30-2-1 {
		t.Fatalf("%d unacknowledged, want the ones not taken", n)
	}
	readN(t, c, 1, 30)
	eventually(t, "every request acknowledged", func() bool { return cl.Unacknowledged(sid) == 0 })
}
