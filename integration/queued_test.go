package integration

import (
	"fmt"
	"testing"
	"time"

	"github.com/zraft/zraft/client"
	"github.com/zraft/zraft/client/kv"
	"github.com/zraft/zraft/protocol/kvwire"
)

// Scenario 6: while the client has no connection (every member frozen), its calls are
// queued; they are sent, and applied once, when it reconnects.
func TestRequestsQueuedWhileDisconnected(t *testing.T) {
	c, ctx := newCluster(t, 5*time.Minute)
	cl := dial(ctx, t, c, "")
	store := kv.New(cl)
	must(t, store.Watch(ctx, "queued"))
	drain(cl.Events())

	for _, m := range c.Members {
		must(t, m.Pause(ctx))
	}
	// Wait until the client has given the silent connection up.
	waitEvent(t, cl, client.EventReconnecting, 30*time.Second)
	const n = 10
	calls := make([]*client.Call, n)
	for i := range n {
		b, err := kvwire.AppendCommand(nil, kvwire.Set{Key: "queued", Value: fmt.Sprint(i)})
		must(t, err)
		calls[i] = cl.SubmitAsync(ctx, b)
	}
	time.Sleep(500 * time.Millisecond)
	st, err := cl.Status(ctx)
	must(t, err)
	if st.Connected || st.Pending != n {
		t.Fatalf("while disconnected: connected %v, pending %d, want false, %d", st.Connected, st.Pending, n)
	}
	for _, m := range c.Members {
		must(t, m.Unpause(ctx))
	}
	for i, call := range calls {
		if _, err := call.Wait(ctx); err != nil {
			t.Fatalf("queued command %d: %v", i, err)
		}
	}
	applied := checkPipelined(ctx, t, cl, "queued", n)
	if v, _, err := store.Get(ctx, "queued"); err != nil || v != applied[n-1] {
		t.Fatalf("queued = %q %v, want the last applied %s", v, err, applied[n-1])
	}
}

func drain(ch <-chan client.Event) {
	for len(ch) > 0 {
		<-ch
	}
}

func waitEvent(t *testing.T, cl *client.Client, kind client.EventKind, within time.Duration) client.Event {
	t.Helper()
	deadline := time.After(within)
	for {
		select {
		case ev := <-cl.Events():
			if ev.Kind == kind {
				return ev
			}
		case <-deadline:
			t.Fatalf("no %v event within %v", kind, within)
		}
	}
}
