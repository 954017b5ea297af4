package integration

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/zraft/zraft/client"
	"github.com/zraft/zraft/client/kv"
	"github.com/zraft/zraft/protocol/kvwire"
)

// Scenario 3: the leader is killed while commands are in flight. The client keeps its
// session id, re-sends what was pending, and every command is applied exactly once
// (each Set of the watched key notifies the watcher once); earlier writes stay visible.
func TestDurabilityAcrossLeaderKill(t *testing.T) {
	c, ctx := newCluster(t, 6*time.Minute)
	cl := dial(ctx, t, c, "")
	store := kv.New(cl)
	for i := range 5 {
		must(t, store.Set(ctx, fmt.Sprintf("early-%d", i), fmt.Sprint(i)))
	}
	must(t, store.Watch(ctx, "dur"))
	before := sessionID(ctx, t, cl)
	leader, err := c.Leader(ctx)
	must(t, err)

	const n = 40
	calls := make([]*client.Call, n)
	for i := range n {
		b, err := kvwire.AppendCommand(nil, kvwire.Set{Key: "dur", Value: fmt.Sprint(i)})
		must(t, err)
		calls[i] = cl.SubmitAsync(ctx, b)
		if i == n/4 {
			must(t, leader.Kill(ctx))
		}
	}
	for i, call := range calls {
		if _, err := call.Wait(ctx); err != nil {
			t.Fatalf("command %d: %v", i, err)
		}
	}
	if after := sessionID(ctx, t, cl); after != before {
		t.Fatalf("session changed across the failover: %s then %s", before, after)
	}
	applied := checkPipelined(ctx, t, cl, "dur", n)
	for i := range 5 {
		v, found, err := store.Get(ctx, fmt.Sprintf("early-%d", i))
		if err != nil || !found || v != fmt.Sprint(i) {
			t.Fatalf("early-%d = %q %v %v", i, v, found, err)
		}
	}
	must(t, leader.Start(ctx))
	must(t, c.WaitReady(ctx, leader))
	if v, _, err := store.Get(ctx, "dur"); err != nil || v != applied[n-1] {
		t.Fatalf("dur = %q %v, want the last applied %s", v, err, applied[n-1])
	}
}

// checkPipelined checks that a watcher of key was told of the values 0..n-1 of n
// pipelined Sets exactly once each, with server request ids 1..n without gaps, and in
// the order of the SubmitAsync calls (which client.SubmitAsync promises). It returns
// the values in the order they were applied.
func checkPipelined(ctx context.Context, t *testing.T, cl *client.Client, key string, n int) []string {
	t.Helper()
	var got []string
	count := map[string]int{}
	for len(got) < n {
		nt := nextNotification(ctx, t, cl, time.Minute)
		if nt.ID != int64(len(got)+1) || nt.Key != key {
			t.Fatalf("notification %d: %+v", len(got), nt)
		}
		got = append(got, nt.Value)
		count[nt.Value]++
	}
	for i := range n {
		if c := count[fmt.Sprint(i)]; c != 1 {
			t.Fatalf("Set %s=%d applied %d times; notifications %v", key, i, c, got)
		}
	}
	for i := range n {
		if got[i] != fmt.Sprint(i) {
			t.Errorf("pipelined commands applied out of call order: %v", got)
			break
		}
	}
	select {
	case r := <-cl.ServerRequests():
		t.Fatalf("extra server request %d: a command was applied twice", r.ID)
	case <-time.After(3 * time.Second):
	}
	return got
}
