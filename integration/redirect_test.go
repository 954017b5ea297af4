package integration

import (
	"testing"
	"time"

	"github.com/zraft/zraft/client"
	"github.com/zraft/zraft/client/kv"
)

// Scenario 2: a client that knows a follower first is redirected to the leader, and
// its commands succeed there.
func TestCommandsToFollowerAreRedirected(t *testing.T) {
	c, ctx := newCluster(t, 5*time.Minute)
	f, err := c.Follower(ctx)
	must(t, err)
	l, err := c.Leader(ctx)
	must(t, err)
	var events []client.Event
	cl := dial(ctx, t, c, c.Endpoints(f))
	store := kv.New(cl)
	for i := range 5 {
		must(t, store.Set(ctx, "redirect", string(rune('a'+i))))
	}
	if v, _, err := store.Get(ctx, "redirect"); err != nil || v != "e" {
		t.Fatalf("Get = %q %v", v, err)
	}
	st, err := cl.Status(ctx)
	must(t, err)
	if st.Member != l.ID {
		t.Fatalf("client serves from %s, leader is %s", st.Member, l.ID)
	}
	for len(cl.Events()) > 0 {
		events = append(events, <-cl.Events())
	}
	t.Logf("listed %s first; connected to leader %s; events %v", f.ID, st.Member, events)
}
