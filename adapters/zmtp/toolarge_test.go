package zmtp

import (
	"bytes"
	"errors"
	"testing"
)

// A message over the limit is skipped with its first bytes reported, and the connection
// carries on; without WithSkipTooLarge it ends the connection.
func TestClientSkipsTooLarge(t *testing.T) {
	checkLeaks(t)
	ctx := testCtx(t)
	s := listen(t, WithMaxMessageSize(16<<20))
	c := newClient(t, s.Addr(), WithSkipTooLarge(8))
	opened := waitKind(t, ctx, s.Recv, EventOpened)
	waitKind(t, ctx, c.Recv, EventUp)
	big := append([]byte("prefix--"), bytes.Repeat([]byte("b"), DefaultMaxMessageSize)...)
	if err := s.Send(opened.RoutingID, big); err != nil {
		t.Fatal(err)
	}
	if err := s.Send(opened.RoutingID, []byte("after")); err != nil {
		t.Fatal(err)
	}
	ev, err := c.Recv(ctx)
	if err != nil || ev.Kind != EventTooLarge || string(ev.Data) != "prefix--" || ev.Size != uint64(len(big)) {
		t.Fatalf("event %+v (data %q), %v", ev.Kind, ev.Data, err)
	}
	if ev, err := c.Recv(ctx); err != nil || ev.Kind != EventMessage || string(ev.Data) != "after" {
		t.Fatalf("next event %v %q, %v", ev.Kind, ev.Data, err)
	}

	plain := newClient(t, s.Addr())
	opened = waitKind(t, ctx, s.Recv, EventOpened)
	waitKind(t, ctx, plain.Recv, EventUp)
	if err := s.Send(opened.RoutingID, big); err != nil {
		t.Fatal(err)
	}
	if ev := waitKind(t, ctx, plain.Recv, EventDown); !errors.Is(ev.Reason, ErrTooLarge) {
		t.Fatalf("down for %v", ev.Reason)
	}
	if _, err := NewClient(WithSkipTooLarge(-1)); !errors.Is(err, ErrConfig) {
		t.Fatalf("negative prefix: %v", err)
	}
}
