package integration

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/zraft/zraft/client/kv"
)

// Scenario 5: the leader is cut off its peers for 15 s while a client writes. The
// minority side stops serving (the old leader steps down), the client continues the
// same session on the new leader, and every write acknowledged is there once, in order.
func TestLeaderPartitioned(t *testing.T) {
	c, ctx := newCluster(t, 6*time.Minute)
	cl := dial(ctx, t, c, "")
	store := kv.New(cl)
	must(t, store.Watch(ctx, "part"))
	id := sessionID(ctx, t, cl)
	old, err := c.Leader(ctx)
	must(t, err)

	// A writer keeps going through the partition, one acknowledged write at a time.
	written := make(chan int, 1)
	stop := make(chan struct{})
	go func() {
		i := 0
		defer func() { written <- i }()
		for {
			select {
			case <-stop:
				return
			default:
			}
			wctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
			err := store.Set(wctx, "part", fmt.Sprint(i))
			cancel()
			if err != nil {
				t.Errorf("write %d: %v", i, err)
				return
			}
			i++
			time.Sleep(50 * time.Millisecond)
		}
	}()

	time.Sleep(2 * time.Second)
	must(t, old.Disconnect(ctx))
	cut := time.Now()
	// The minority side must stop serving: the old leader steps down.
	stepped := false
	for time.Since(cut) < 15*time.Second {
		if st, err := old.Status(ctx); err == nil && st.Role != "leader" && !stepped {
			stepped = true
			t.Logf("%s stepped down after %v (role %s)", old.ID, time.Since(cut).Round(time.Millisecond), st.Role)
		}
		time.Sleep(250 * time.Millisecond)
	}
	if !stepped {
		t.Errorf("%s still leads after 15 s cut off its peers", old.ID)
	}
	newLeader, err := c.Leader(ctx)
	must(t, err)
	if newLeader == old {
		t.Fatalf("%s leads while cut off", old.ID)
	}
	must(t, old.Reconnect(ctx))
	time.Sleep(2 * time.Second)
	close(stop)
	n := <-written
	if t.Failed() {
		return
	}
	if got := sessionID(ctx, t, cl); got != id {
		t.Fatalf("session changed: %s then %s", id, got)
	}
	st, err := cl.Status(ctx)
	must(t, err)
	if st.Member != newLeader.ID {
		t.Logf("client on %s; leader was %s when checked", st.Member, newLeader.ID)
	}
	t.Logf("%d writes acknowledged; leader %s -> %s", n, old.ID, newLeader.ID)
	for i := range n {
		nt := nextNotification(ctx, t, cl, time.Minute)
		if nt.Value != fmt.Sprint(i) {
			t.Fatalf("notification %d = %+v, want part=%d", i, nt, i)
		}
	}
	must(t, c.WaitReady(ctx, old))
	v, _, err := store.Get(ctx, "part")
	if err != nil || v != fmt.Sprint(n-1) {
		t.Fatalf("part = %q %v, want %d", v, err, n-1)
	}
}
