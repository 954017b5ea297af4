package integration

import (
	"errors"
	"testing"
	"time"

	"github.com/zraft/zraft/client"
	"github.com/zraft/zraft/client/kv"
)

// Scenario 1: a session is created, lives across several keep-alive intervals and
// session timeouts without traffic, and is closed; the cluster forgets it and refuses
// to continue it.
func TestSessionLifecycle(t *testing.T) {
	c, ctx := newCluster(t, 5*time.Minute)
	cl := dial(ctx, t, c, "")
	id := sessionID(ctx, t, cl)
	if id == "" {
		t.Fatal("no session id")
	}
	store := kv.New(cl)
	must(t, store.Set(ctx, "life", "1"))
	waitSessions(ctx, t, c, 1, 30*time.Second)

	// Idle for longer than the session timeout: only keep-alives hold the session.
	time.Sleep(sessionTimeout + 3*time.Second)
	if got := sessionID(ctx, t, cl); got != id {
		t.Fatalf("session changed while idle: %s then %s", id, got)
	}
	v, found, err := store.Get(ctx, "life")
	if err != nil || !found || v != "1" {
		t.Fatalf("Get after idling = %q %v %v", v, found, err)
	}
	must(t, store.Set(ctx, "life", "2"))
	waitSessions(ctx, t, c, 1, 30*time.Second)

	must(t, cl.Close(ctx))
	if err := store.Set(ctx, "life", "3"); !errors.Is(err, client.ErrClosed) {
		t.Fatalf("Set after Close: %v, want ErrClosed", err)
	}
	// The CloseSession reached the cluster: the session is gone at once, not by expiry.
	waitSessions(ctx, t, c, 0, sessionTimeout/2)
	expectContinueRejected(ctx, t, c, id)

	other := dial(ctx, t, c, "")
	if v, _, err := kv.New(other).Get(ctx, "life"); err != nil || v != "2" {
		t.Fatalf("Get from a new session = %q %v, want 2", v, err)
	}
}
