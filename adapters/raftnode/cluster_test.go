package raftnode_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/zraft/zraft/adapters/raftnode"
	"github.com/zraft/zraft/adapters/raftnode/raftnodetest"
)

func ctxFor(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func mustGet(t *testing.T, m *raftnodetest.Member, key, want string) {
	t.Helper()
	if v, ok := m.Get(key); !ok || v != want {
		t.Fatalf("%s: %s = %q,%v; want %q", m.ID, key, v, ok, want)
	}
}

func TestClusterElectsAndReplicates(t *testing.T) {
	checkNoLeaks(t)
	c := raftnodetest.New(t, raftnodetest.Options{})
	ctx := ctxFor(t, 60*time.Second)
	leader, err := c.WaitLeader(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var last uint64
	for i := 0; i < 20; i++ {
		res, err := leader.Node().Propose(ctx, raftnodetest.SetCmd(fmt.Sprintf("k%d", i), fmt.Sprint(i)))
		if err != nil {
			t.Fatal(err)
		}
		last = res.(uint64)
	}
	for _, m := range c.Members() {
		if err := c.WaitApplied(ctx, m, last); err != nil {
			t.Fatal(err)
		}
		mustGet(t, m, "k19", "19")
		waitKnowsLeader(t, ctx, m, leader.ID)
		if lid, ep := m.Node().Leader(); lid != leader.ID || ep != "tcp://"+leader.ID+".client:7001" {
			t.Errorf("%s: leader hint %q %q", m.ID, lid, ep)
		}
	}
	// A follower refuses proposals and names the leader.
	for _, m := range c.Members() {
		if m == leader {
			continue
		}
		_, err := m.Node().Propose(ctx, raftnodetest.SetCmd("x", "y"))
		var nle *raftnode.NotLeaderError
		if !errors.As(err, &nle) || !errors.Is(err, raftnode.ErrNotLeader) || nle.LeaderID != leader.ID {
			t.Errorf("%s: propose on follower: %v", m.ID, err)
		}
	}
	if got := len(leader.Node().Members()); got != 3 {
		t.Errorf("members = %d", got)
	}
	c.Close()
}
