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

func proposeN(t *testing.T, ctx context.Context, c *raftnodetest.Cluster, prefix string, n int) uint64 {
	t.Helper()
	var last uint64
	for i := 0; i < n; i++ {
		res, err := c.Propose(ctx, raftnodetest.SetCmd(fmt.Sprintf("%s%d", prefix, i), fmt.Sprint(i)))
		if err != nil {
			t.Fatalf("propose %s%d: %v", prefix, i, err)
		}
		last = res.(uint64)
	}
	return last
}

func TestKilledLeaderIsReplacedWithStateIntact(t *testing.T) {
	checkNoLeaks(t)
	c := raftnodetest.New(t, raftnodetest.Options{})
	ctx := ctxFor(t, 90*time.Second)
	old, err := c.WaitLeader(ctx)
	if err != nil {
		t.Fatal(err)
	}
	proposeN(t, ctx, c, "a", 50)
	oldTerm := old.Node().Stats().Term
	c.Kill(old)

	nl, err := c.WaitLeader(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if nl == old || nl.Node().Stats().Term <= oldTerm {
		t.Fatalf("new leader %s term %d (old term %d)", nl.ID, nl.Node().Stats().Term, oldTerm)
	}
	// Everything the old leader acknowledged is on the new leader, read linearizably.
	var got int
	var v49 string
	if err := nl.Node().Read(ctx, raftnode.Linearizable, func() { got = nl.KV.Len(); v49, _ = nl.KV.Get("a49") }); err != nil {
		t.Fatal(err)
	}
	if got != 50 || v49 != "49" {
		t.Fatalf("new leader has %d keys, a49=%q", got, v49)
	}
	last := proposeN(t, ctx, c, "b", 10)
	// The old leader comes back as a follower and catches up from its disk and the log.
	c.Restart(old)
	if err := c.WaitApplied(ctx, old, last); err != nil {
		t.Fatal(err)
	}
	mustGet(t, old, "b9", "9")
	mustGet(t, old, "a0", "0")
}

func TestRestartedMemberCatchesUpFromDisk(t *testing.T) {
	checkNoLeaks(t)
	c := raftnodetest.New(t, raftnodetest.Options{})
	ctx := ctxFor(t, 90*time.Second)
	leader, err := c.WaitLeader(ctx)
	if err != nil {
		t.Fatal(err)
	}
	proposeN(t, ctx, c, "a", 20)
	var follower *raftnodetest.Member
	for _, m := range c.Members() {
		if m != leader {
			follower = m
			break
		}
	}
	if err := c.WaitApplied(ctx, follower, leader.Node().Stats().CommitIndex); err != nil {
		t.Fatal(err)
	}
	c.Kill(follower)
	last := proposeN(t, ctx, c, "b", 20)
	c.Restart(follower)
	// Before it hears from the leader, the restarted member replays its own log.
	if err := c.WaitApplied(ctx, follower, last); err != nil {
		t.Fatal(err)
	}
	mustGet(t, follower, "a19", "19")
	mustGet(t, follower, "b19", "19")
}

func TestLaggingMemberGetsSnapshot(t *testing.T) {
	checkNoLeaks(t)
	c := raftnodetest.New(t, raftnodetest.Options{Configure: func(cfg *raftnode.Config) {
		cfg.SnapshotThreshold = 20
		cfg.TrailingLogs = 5
		cfg.SnapshotInterval = 100 * time.Millisecond
	}})
	ctx := ctxFor(t, 120*time.Second)
	leader, err := c.WaitLeader(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var lagger *raftnodetest.Member
	for _, m := range c.Members() {
		if m != leader {
			lagger = m
			break
		}
	}
	c.Isolate(lagger)
	last := proposeN(t, ctx, c, "k", 200)
	// Wait until the leader's log was compacted past what the lagger has.
	for leader.Node().Stats().LastSnapshotIndex < 100 {
		select {
		case <-ctx.Done():
			t.Fatalf("leader never snapshotted: %+v", leader.Node().Stats())
		case <-time.After(50 * time.Millisecond):
		}
	}
	proposeN(t, ctx, c, "x", 30) // more entries after the snapshot, and maybe a second one
	c.Heal()
	if err := c.WaitApplied(ctx, lagger, last); err != nil {
		t.Fatal(err)
	}
	if lagger.KV.Restores() == 0 {
		t.Fatal("lagger caught up without a snapshot install")
	}
	mustGet(t, lagger, "k0", "0")
	mustGet(t, lagger, "k199", "199")
	// The snapshot carries the replicated member endpoints too.
	if _, ep := lagger.Node().Leader(); ep == "" {
		t.Error("lagger does not know the leader's client endpoint after the snapshot")
	}
}

func TestAddAndRemoveMember(t *testing.T) {
	checkNoLeaks(t)
	c := raftnodetest.New(t, raftnodetest.Options{})
	ctx := ctxFor(t, 90*time.Second)
	last := proposeN(t, ctx, c, "a", 10)
	m4, err := c.AddMember(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.WaitApplied(ctx, m4, last); err != nil {
		t.Fatal(err)
	}
	mustGet(t, m4, "a9", "9")
	leader, err := c.WaitLeader(ctx)
	if err != nil {
		t.Fatal(err)
	}
	waitMembers(t, ctx, m4, 4)
	// AddMember returned after the leader applied m4's endpoint; m4 learns it from the log.
	for _, mm := range leader.Node().Members() {
		if mm.ID == m4.ID && mm.ClientEndpoint != "tcp://m4.client:7001" {
			t.Errorf("m4 endpoint %q", mm.ClientEndpoint)
		}
	}
	// Remove a follower that is not m4; the cluster keeps working with 3.
	var victim *raftnodetest.Member
	for _, m := range c.Members() {
		if m != leader && m != m4 {
			victim = m
			break
		}
	}
	if err := leader.Node().RemoveMember(ctx, victim.ID); err != nil {
		t.Fatal(err)
	}
	waitMembers(t, ctx, m4, 3)
	c.Kill(victim)
	last = proposeN(t, ctx, c, "b", 5)
	if err := c.WaitApplied(ctx, m4, last); err != nil {
		t.Fatal(err)
	}
	// A follower's Leave names the leader; the leader leaves by removing itself.
	if err := m4.Node().Leave(ctx); !errors.Is(err, raftnode.ErrNotLeader) {
		t.Fatalf("follower Leave: %v", err)
	}
	leader, err = c.WaitLeader(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := leader.Node().Leave(ctx); err != nil {
		t.Fatal(err)
	}
	nl, err := c.WaitLeader(ctx, leader)
	if err != nil {
		t.Fatal(err)
	}
	waitMembers(t, ctx, nl, 2)
	proposeN(t, ctx, c, "c", 3)
}

func waitMembers(t *testing.T, ctx context.Context, m *raftnodetest.Member, n int) {
	t.Helper()
	for len(m.Node().Members()) != n {
		select {
		case <-ctx.Done():
			t.Fatalf("%s: members %v, want %d", m.ID, m.Node().Members(), n)
		case <-time.After(20 * time.Millisecond):
		}
	}
}
