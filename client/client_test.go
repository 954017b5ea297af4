package client

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/zraft/zraft/client/internal/testserver"
	"github.com/zraft/zraft/protocol/kvwire"
)

func set(t testing.TB, key, value string) []byte {
	b, err := kvwire.AppendCommand(nil, kvwire.Set{Key: key, Value: value})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func get(t testing.TB, key string) []byte {
	b, err := kvwire.AppendGet(nil, kvwire.Get{Key: key})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestSubmitAndQuery(t *testing.T) {
	checkLeaks(t)
	cl := startCluster(t, testserver.Config{Members: 1, Extensions: true})
	c := dial(t, cl.Endpoints())
	ctx := ctxT(t)
	res, err := c.Submit(ctx, set(t, "k", "v"))
	if err != nil || len(res) != 0 {
		t.Fatalf("Submit = %x, %v", res, err)
	}
	res, err = c.Query(ctx, get(t, "k"))
	if err != nil {
		t.Fatal(err)
	}
	if r, err := kvwire.DecodeGetResult(res); err != nil || !r.Found || r.Value != "v" {
		t.Fatalf("Get = %+v, %v", r, err)
	}
	// An application error is a result, not an error of the client.
	res, err = c.Submit(ctx, []byte("garbage"))
	if err != nil || !bytes.HasPrefix(res, []byte("kv: ")) {
		t.Fatalf("malformed command: %q, %v", res, err)
	}
	st := status(t, c)
	if !st.Connected || st.Member != "node-1" || st.SessionID == "" || st.Extensions != 1 {
		t.Fatalf("status %+v", st)
	}
}

func TestAsyncManyInFlightFromOneGoroutine(t *testing.T) {
	checkLeaks(t)
	cl := startCluster(t, testserver.Config{Members: 1})
	c := dial(t, cl.Endpoints())
	ctx := ctxT(t)
	calls := make([]*Call, 200)
	for i := range calls {
		calls[i] = c.SubmitAsync(ctx, set(t, fmt.Sprint("k", i), "v"))
	}
	for i, call := range calls {
		<-call.Done()
		if _, err := call.Wait(ctx); err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
	}
	sid := status(t, c).SessionID
	if n, most := cl.AppliedIDs(sid); n != 200 || most != 1 {
		t.Fatalf("applied %d distinct commands, one of them %d times", n, most)
	}
}

func TestRedirectToLeader(t *testing.T) {
	checkLeaks(t)
	cl := startCluster(t, testserver.Config{Members: 3})
	cl.SetLeader(2)
	c := dial(t, cl.Endpoints())
	if _, err := c.Submit(ctxT(t), set(t, "a", "1")); err != nil {
		t.Fatal(err)
	}
	if st := status(t, c); st.Member != "node-3" {
		t.Fatalf("connected to %q, want the leader node-3", st.Member)
	}
}

func TestCommandsWhileLeaderIsKilled(t *testing.T) {
	checkLeaks(t)
	cl := startCluster(t, testserver.Config{Members: 3, Extensions: true})
	c := dial(t, cl.Endpoints())
	ctx := ctxT(t)
	const n = 300
	errs := make(chan error, 1)
	go func() {
		for i := range n {
			if _, err := c.Submit(ctx, set(t, "k", fmt.Sprint(i))); err != nil {
				errs <- fmt.Errorf("command %d: %w", i, err)
				return
			}
		}
		errs <- nil
	}()
	eventually(t, "some commands", func() bool { d, _ := cl.AppliedIDs(status(t, c).SessionID); return d > 50 })
	cl.Member(0).Kill()
	cl.SetLeader(1)
	eventually(t, "more commands", func() bool { d, _ := cl.AppliedIDs(status(t, c).SessionID); return d > 150 })
	cl.SetLeader(2) // a step-down while connected: NotLeaderAnymore with a hint
	if err := <-errs; err != nil {
		t.Fatal(err)
	}
	st := status(t, c)
	if d, most := cl.AppliedIDs(st.SessionID); d != n || most != 1 {
		t.Fatalf("applied %d distinct commands (want %d), one of them %d times (want 1)", d, n, most)
	}
	if st.Member != "node-3" {
		t.Fatalf("connected to %s, want node-3", st.Member)
	}
	if got := len(cl.Sessions()); got != 1 {
		t.Fatalf("%d sessions on the cluster, want the one", got)
	}
}

func TestQueueWhileDisconnected(t *testing.T) {
	checkLeaks(t)
	cl := startCluster(t, testserver.Config{Members: 2})
	c := dial(t, cl.Endpoints())
	ctx := ctxT(t)
	cl.Member(0).Kill()
	cl.Member(1).Kill()
	eventually(t, "disconnected", func() bool { return !status(t, c).Connected })
	calls := []*Call{c.SubmitAsync(ctx, set(t, "a", "1")), c.SubmitAsync(ctx, set(t, "b", "2")), c.QueryAsync(ctx, get(t, "a"))}
	time.Sleep(300 * time.Millisecond)
	for i, call := range calls {
		select {
		case <-call.Done():
			_, err := call.Wait(ctx)
			t.Fatalf("call %d completed while no member runs: %v", i, err)
		default:
		}
	}
	if err := cl.Member(1).Restart(); err != nil {
		t.Fatal(err)
	}
	cl.SetLeader(1)
	for i, call := range calls {
		if _, err := call.Wait(ctx); err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
	}
	res, _ := calls[2].Wait(ctx)
	if r, err := kvwire.DecodeGetResult(res); err != nil || r.Value != "1" {
		t.Fatalf("query after the queued set: %+v %v", r, err)
	}
}

func TestResendAfterReconnectIsAppliedOnce(t *testing.T) {
	checkLeaks(t)
	cl := startCluster(t, testserver.Config{Members: 2})
	c := dial(t, cl.Endpoints(), WithResendInterval(-1))
	ctx := ctxT(t)
	sid := status(t, c).SessionID
	cl.DropReplies(true)
	call := c.SubmitAsync(ctx, set(t, "x", "1"))
	eventually(t, "the command applied", func() bool { return cl.Applied(sid, 1) == 1 })
	cl.Member(0).Kill() // the reply is lost with the connection
	cl.DropReplies(false)
	cl.SetLeader(1)
	if _, err := call.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	if n := cl.Applied(sid, 1); n != 1 {
		t.Fatalf("applied %d times", n)
	}
}

func TestSessionExpiredIsSurfaced(t *testing.T) {
	checkLeaks(t)
	cl := startCluster(t, testserver.Config{Members: 1})
	c := dial(t, cl.Endpoints())
	ctx := ctxT(t)
	sid := status(t, c).SessionID
	cl.DropReplies(true)
	call := c.SubmitAsync(ctx, set(t, "x", "1"))
	eventually(t, "the command applied", func() bool { return cl.Applied(sid, 1) == 1 })
	cl.Expire(sid)
	if _, err := call.Wait(ctx); !errors.Is(err, ErrSessionExpired) {
		t.Fatalf("pending call: %v, want ErrSessionExpired", err)
	}
	if _, err := c.Submit(ctx, set(t, "y", "1")); !errors.Is(err, ErrSessionExpired) {
		t.Fatalf("later call: %v, want ErrSessionExpired", err)
	}
	if got := waitEvent(t, c, EventSessionExpired); !errors.Is(got.Err, ErrSessionExpired) || got.SessionID != sid {
		t.Fatalf("event %+v", got)
	}
	if s := cl.Sessions(); len(s) != 0 {
		t.Fatalf("the client opened a new session on its own: %v", s)
	}
}

func TestSessionExpiredWhileDisconnected(t *testing.T) {
	checkLeaks(t)
	cl := startCluster(t, testserver.Config{Members: 1})
	c := dial(t, cl.Endpoints())
	ctx := ctxT(t)
	sid := status(t, c).SessionID
	cl.Member(0).Kill()
	cl.Expire(sid)
	call := c.SubmitAsync(ctx, set(t, "x", "1"))
	if err := cl.Member(0).Restart(); err != nil {
		t.Fatal(err)
	}
	if _, err := call.Wait(ctx); !errors.Is(err, ErrSessionExpired) {
		t.Fatalf("got %v, want ErrSessionExpired", err)
	}
	if s := cl.Sessions(); len(s) != 0 {
		t.Fatalf("the client opened a new session on its own: %v", s)
	}
}

func waitEvent(t testing.TB, c *Client, kind EventKind) Event {
	t.Helper()
	timeout := time.After(20 * time.Second)
	for {
		select {
		case ev, ok := <-c.Events():
			if !ok {
				t.Fatalf("events closed before %v", kind)
			}
			if ev.Kind == kind {
				return ev
			}
		case <-timeout:
			t.Fatalf("no %v event", kind)
		}
	}
}

func TestClose(t *testing.T) {
	checkLeaks(t)
	cl := startCluster(t, testserver.Config{Members: 1})
	c := dial(t, cl.Endpoints())
	ctx := ctxT(t)
	if len(cl.Sessions()) != 1 {
		t.Fatal("no session")
	}
	cl.DropReplies(true)
	pending := []*Call{c.SubmitAsync(ctx, set(t, "x", "1")), c.SubmitAsync(ctx, set(t, "y", "1"))}
	if err := c.Close(ctx); err != nil {
		t.Fatal(err)
	}
	for i, call := range pending {
		if _, err := call.Wait(ctx); !errors.Is(err, ErrClosed) {
			t.Fatalf("pending call %d: %v, want ErrClosed", i, err)
		}
	}
	if _, err := c.Submit(ctx, set(t, "z", "1")); !errors.Is(err, ErrClosed) {
		t.Fatalf("after Close: %v", err)
	}
	if _, err := c.Query(ctx, get(t, "z")); !errors.Is(err, ErrClosed) {
		t.Fatalf("after Close: %v", err)
	}
	if _, err := c.Status(ctx); !errors.Is(err, ErrClosed) {
		t.Fatalf("Status after Close: %v", err)
	}
	// CloseSession was written before the connection closed, so the cluster ends the
	// session (it would otherwise stay until it expired; this cluster never expires).
	eventually(t, "the cluster to close the session", func() bool { return len(cl.Sessions()) == 0 })
	if _, ok := <-c.ServerRequests(); ok {
		t.Fatal("ServerRequests not closed")
	}
	var last Event
	for ev := range c.Events() {
		last = ev
	}
	if last.Kind != EventClosed || !errors.Is(last.Err, ErrClosed) {
		t.Fatalf("last event %+v", last)
	}
	if err := c.Close(ctx); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}

func TestContextCancelsWait(t *testing.T) {
	checkLeaks(t)
	cl := startCluster(t, testserver.Config{Members: 1})
	c := dial(t, cl.Endpoints())
	sid := status(t, c).SessionID
	cl.DropReplies(true)
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	if _, err := c.Submit(ctx, set(t, "x", "1")); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("got %v", err)
	}
	call := c.QueryAsync(ctx, get(t, "x"))
	if _, err := call.Wait(context.Background()); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("async call: %v", err)
	}
	// The cancelled command stays pending in the engine and is applied exactly once.
	cl.DropReplies(false)
	if _, err := c.Submit(ctxT(t), set(t, "y", "1")); err != nil {
		t.Fatal(err)
	}
	if n := cl.Applied(sid, 1); n != 1 {
		t.Fatalf("cancelled command applied %d times", n)
	}
}

func TestDialNoMemberTimesOut(t *testing.T) {
	checkLeaks(t)
	cl := startCluster(t, testserver.Config{Members: 1})
	ep := cl.Endpoints()
	cl.Member(0).Kill()
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	c, err := Dial(ctx, ep, testOptions(WithConnectTimeout(100*time.Millisecond))...)
	if !errors.Is(err, context.DeadlineExceeded) || c != nil {
		t.Fatalf("Dial = %v, %v", c, err)
	}
}

func TestParseEndpoints(t *testing.T) {
	ms, err := ParseEndpoints(" node-1=tcp://127.0.0.1:7001, node-2=tcp://h:2 ,tcp://x:3")
	if err != nil {
		t.Fatal(err)
	}
	want := []Member{{"node-1", "tcp://127.0.0.1:7001"}, {"node-2", "tcp://h:2"}, {"tcp://x:3", "tcp://x:3"}}
	if fmt.Sprint(ms) != fmt.Sprint(want) {
		t.Fatalf("got %v", ms)
	}
	for _, bad := range []string{"", ",", "a=tcp://x:1,a=tcp://y:2", "a=http://x", "=tcp://x:1", "a=tcp://"} {
		if _, err := ParseEndpoints(bad); !errors.Is(err, ErrInvalidEndpoints) {
			t.Errorf("%q: %v", bad, err)
		}
	}
}

func TestDialRefusedSession(t *testing.T) {
	checkLeaks(t)
	cl := startCluster(t, testserver.Config{Members: 1, RejectSessions: true})
	c, err := Dial(ctxT(t), cl.Endpoints(), testOptions()...)
	if !errors.Is(err, ErrInvalidCapabilities) || c != nil {
		t.Fatalf("Dial = %v, %v", c, err)
	}
}

func TestTooManyPending(t *testing.T) {
	checkLeaks(t)
	cl := startCluster(t, testserver.Config{Members: 1})
	c := dial(t, cl.Endpoints(), WithMaxPending(2))
	ctx := ctxT(t)
	cl.DropReplies(true)
	a, b := c.SubmitAsync(ctx, set(t, "a", "1")), c.SubmitAsync(ctx, set(t, "b", "1")) // never answered
	if _, err := c.Query(ctx, get(t, "a")); !errors.Is(err, ErrTooManyPending) {
		t.Fatalf("third call: %v", err)
	}
	_ = c.Close(ctx)
	for _, call := range []*Call{a, b} {
		if _, err := call.Wait(ctx); !errors.Is(err, ErrClosed) {
			t.Fatalf("pending call: %v", err)
		}
	}
}

func TestEventsNeverBlock(t *testing.T) {
	checkLeaks(t)
	cl := startCluster(t, testserver.Config{Members: 2})
	c := dial(t, cl.Endpoints(), WithEventBuffer(1)) // filled by the first "connected"
	cl.Member(0).Kill()
	cl.SetLeader(1)
	if _, err := c.Submit(ctxT(t), set(t, "a", "1")); err != nil {
		t.Fatal(err)
	}
	if st := status(t, c); st.EventsDropped == 0 || st.Member != "node-2" {
		t.Fatalf("status %+v", st)
	}
}

func TestPayloadTooLargeFailsAtOnce(t *testing.T) {
	checkLeaks(t)
	cl := startCluster(t, testserver.Config{Members: 1})
	c := dial(t, cl.Endpoints(), WithMaxMessageSize(4096))
	ctx := ctxT(t)
	big := make([]byte, 4096)
	if _, err := c.Submit(ctx, big); !errors.Is(err, ErrPayloadTooLarge) {
		t.Fatalf("Submit: %v", err)
	}
	if _, err := c.Query(ctx, big); !errors.Is(err, ErrPayloadTooLarge) {
		t.Fatalf("Query: %v", err)
	}
	if _, err := c.Submit(ctx, set(t, "k", string(make([]byte, 2000)))); err != nil {
		t.Fatalf("a payload that fits: %v", err)
	}
	if _, err := Dial(ctx, cl.Endpoints(), WithMaxMessageSize(10)); !errors.Is(err, ErrInvalidOption) {
		t.Fatalf("tiny limit: %v", err)
	}
}

// An idle client keeps its session alive with KeepAlive; the cluster expires only
// silent sessions.
func TestKeepAliveKeepsIdleSession(t *testing.T) {
	checkLeaks(t)
	cl := startCluster(t, testserver.Config{Members: 1, SessionTimeout: 1500 * time.Millisecond})
	c := dial(t, cl.Endpoints()) // KeepAlive every 200 ms (testOptions)
	sid := status(t, c).SessionID
	time.Sleep(3 * time.Second)
	if s := cl.Sessions(); len(s) != 1 || s[0] != sid {
		t.Fatalf("sessions %v, want %s alive", s, sid)
	}
	if _, err := c.Submit(ctxT(t), set(t, "k", "v")); err != nil {
		t.Fatal(err)
	}
}
