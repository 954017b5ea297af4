package client

import (
	"context"
	"testing"

	"github.com/zraft/zraft/client/internal/testserver"
	"github.com/zraft/zraft/protocol"
)

func traced(context.Context) (string, string) {
	return "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", "k=v"
}

// Against a server that never confirms extensions (as zio-raft's), the client sends
// plain version 1 only, whatever it is asked for.
func TestNoExtensionBlocksWithoutConfirmation(t *testing.T) {
	checkLeaks(t)
	cl := startCluster(t, testserver.Config{Members: 2, Extensions: false})
	cl.SetLeader(1)
	c := dial(t, cl.Endpoints(), WithTraceContext(traced))
	ctx := ctxT(t)
	for range 3 {
		if _, err := c.Submit(ctx, set(t, "k", "v")); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Query(ctx, get(t, "k"), WithConsistency(Stale)); err != nil {
			t.Fatal(err)
		}
	}
	if st := status(t, c); st.Extensions != 0 {
		t.Fatalf("extensions %d without confirmation", st.Extensions)
	}
	if v := cl.Violations(); len(v) != 0 {
		t.Fatalf("extension blocks sent: %v", v)
	}
	for _, q := range cl.Queries() {
		if q != 0 {
			t.Fatalf("consistency %v sent", q)
		}
	}
}

func TestExtensionsWhenConfirmed(t *testing.T) {
	checkLeaks(t)
	cl := startCluster(t, testserver.Config{Members: 1, Extensions: true})
	c := dial(t, cl.Endpoints(), WithTraceContext(traced))
	ctx := ctxT(t)
	if _, err := c.Submit(ctx, set(t, "k", "v")); err != nil {
		t.Fatal(err)
	}
	for _, level := range []Consistency{Lease, Stale, Linearizable} {
		if _, err := c.Query(ctx, get(t, "k"), WithConsistency(level)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.Query(ctx, get(t, "k")); err != nil {
		t.Fatal(err)
	}
	want := []protocol.Consistency{protocol.ConsistencyLease, protocol.ConsistencyStale, protocol.ConsistencyLinearizable, 0}
	got := cl.Queries()
	if len(got) != len(want) {
		t.Fatalf("queries %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("queries %v, want %v", got, want)
		}
	}
	if v := cl.Violations(); len(v) != 0 {
		t.Fatalf("violations: %v", v)
	}
	if _, err := c.Query(ctx, get(t, "k"), WithConsistency(9)); err == nil {
		t.Fatal("unknown consistency accepted")
	}
}

func TestWithExtensionsOff(t *testing.T) {
	checkLeaks(t)
	cl := startCluster(t, testserver.Config{Members: 1, Extensions: true})
	c := dial(t, cl.Endpoints(), WithExtensions(false), WithTraceContext(traced))
	if _, err := c.Query(ctxT(t), get(t, "k"), WithConsistency(Lease)); err != nil {
		t.Fatal(err)
	}
	if st := status(t, c); st.Extensions != 0 {
		t.Fatalf("extensions %d though turned off", st.Extensions)
	}
	if q := cl.Queries(); len(q) != 1 || q[0] != 0 {
		t.Fatalf("queries %v", q)
	}
}
