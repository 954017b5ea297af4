package raftnode_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/zraft/zraft/adapters/raftnode"
	"github.com/zraft/zraft/adapters/raftnode/raftnodetest"
)

func TestReadsSeeCommittedWrites(t *testing.T) {
	checkNoLeaks(t)
	c := raftnodetest.New(t, raftnodetest.Options{})
	ctx := ctxFor(t, 60*time.Second)
	leader, err := c.WaitLeader(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := leader.Node().Propose(ctx, raftnodetest.SetCmd("k", "v1")); err != nil {
		t.Fatal(err)
	}
	// Many concurrent linearizable reads; every one sees the acknowledged write, and
	// they share confirmation rounds.
	var wg sync.WaitGroup
	const reads = 200
	errs := make(chan error, reads)
	rounds0 := leader.Node().Stats().ReadRounds
	for i := 0; i < reads; i++ {
		level := raftnode.Linearizable
		wg.Add(1)
		go func() {
			defer wg.Done()
			var v string
			if err := leader.Node().Read(ctx, level, func() { v, _ = leader.KV.Get("k") }); err != nil {
				errs <- err
				return
			}
			if v != "v1" {
				errs <- errors.New("read " + v)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	rounds := leader.Node().Stats().ReadRounds - rounds0
	t.Logf("%d linearizable reads took %d confirmation rounds", reads, rounds)
	if rounds == 0 || rounds >= reads/2 {
		t.Errorf("%d reads took %d rounds: not shared", reads, rounds)
	}
	// A lease read within ReadLeaseTimeout of a round's start is served from the lease,
	// without a new round (the round started after `start`).
	start := time.Now()
	if err := leader.Node().Read(ctx, raftnode.Linearizable, func() {}); err != nil {
		t.Fatal(err)
	}
	rounds0 = leader.Node().Stats().ReadRounds
	before := time.Now()
	var v string
	if err := leader.Node().Read(ctx, raftnode.Lease, func() { v, _ = leader.KV.Get("k") }); err != nil || v != "v1" {
		t.Fatalf("lease read %q %v", v, err)
	}
	r := leader.Node().Stats().ReadRounds - rounds0
	if within := before.Sub(start) < leaseTimeout; within && r != 0 {
		t.Errorf("lease read within the lease ran %d rounds", r)
	}
	// Followers refuse linearizable and lease reads with a hint, and serve stale ones.
	for _, m := range c.Members() {
		if m == leader {
			continue
		}
		waitKnowsLeader(t, ctx, m, leader.ID)
		for _, level := range []raftnode.ReadLevel{raftnode.Linearizable, raftnode.Lease} {
			var nle *raftnode.NotLeaderError
			if err := m.Node().Read(ctx, level, func() {}); !errors.As(err, &nle) || nle.LeaderID != leader.ID {
				t.Errorf("%s level %d: %v", m.ID, level, err)
			}
		}
		if err := m.Node().Read(ctx, raftnode.Stale, func() {}); err != nil {
			t.Errorf("%s stale: %v", m.ID, err)
		}
	}
}

func TestPartitionedLeaderStopsServingLinearizableReads(t *testing.T) {
	checkNoLeaks(t)
	// m1 is slow to notice it lost its quorum (it keeps believing it leads for 5s after
	// the cut) while m2 and m3 elect a new leader within about a second: for a while
	// both sides believe they lead, as after a long pause of the old leader.
	c := raftnodetest.New(t, raftnodetest.Options{Configure: func(cfg *raftnode.Config) {
		if cfg.MemberID == "m1" {
			cfg.HeartbeatTimeout = 5 * time.Second
			cfg.ElectionTimeout = 5 * time.Second
			cfg.LeaderLeaseTimeout = 5 * time.Second
		}
	}})
	ctx := ctxFor(t, 90*time.Second)
	first, err := c.WaitLeader(ctx)
	if err != nil {
		t.Fatal(err)
	}
	old := c.Members()[0]
	if first != old {
		if err := first.Node().TransferLeadership(ctx, old.ID); err != nil {
			t.Fatal(err)
		}
	}
	if l, err := c.WaitLeader(ctx); err != nil || l != old {
		t.Fatalf("leader %v, %v; want m1", l, err)
	}
	if _, err := old.Node().Propose(ctx, raftnodetest.SetCmd("k", "before")); err != nil {
		t.Fatal(err)
	}
	// A reader hammers the old leader with linearizable reads from the cut on.
	type served struct {
		start time.Time
		v     string
	}
	var (
		mu   sync.Mutex
		log  []served
		done = make(chan struct{})
		wg   sync.WaitGroup
	)
	c.Isolate(old)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-done:
				return
			default:
			}
			start := time.Now()
			var v string
			rctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			err := old.Node().Read(rctx, raftnode.Linearizable, func() { v, _ = old.KV.Get("k") })
			cancel()
			if err == nil {
				mu.Lock()
				log = append(log, served{start, v})
				mu.Unlock()
			} else {
				time.Sleep(5 * time.Millisecond)
			}
		}
	}()
	// The majority elects a new leader and commits a new value (retrying if its
	// leadership flaps while the old leader's term disturbs it).
	for {
		nl, err := c.WaitLeader(ctx, old)
		if err != nil {
			t.Fatal(err)
		}
		if _, err = nl.Node().Propose(ctx, raftnodetest.SetCmd("k", "after")); err == nil {
			break
		}
		t.Logf("propose on %s: %v", nl.ID, err)
	}
	committed := time.Now()
	if !old.Node().IsLeader() {
		t.Log("m1 stepped down before the new value committed; the test proves less this time")
	}
	// The old leader steps down once its leader lease runs out.
	for old.Node().IsLeader() {
		select {
		case <-ctx.Done():
			t.Fatal("isolated leader never stepped down")
		case <-time.After(20 * time.Millisecond):
		}
	}
	time.Sleep(200 * time.Millisecond)
	close(done)
	wg.Wait()
	// Linearizability: a read that started after "after" was acknowledged must not
	// return "before". The partitioned side can serve nothing newer, so it must serve
	// nothing at all.
	for _, s := range log {
		if s.start.After(committed) {
			t.Fatalf("partitioned old leader served %q to a read that started after the new value committed", s.v)
		}
	}
	t.Logf("old leader served %d reads after the cut, all before the new value committed", len(log))
	if err := old.Node().Read(ctx, raftnode.Lease, func() {}); !errors.Is(err, raftnode.ErrNotLeader) {
		t.Fatalf("lease read on deposed leader: %v", err)
	}
	if got, _ := old.Get("k"); got != "before" {
		t.Fatalf("stale read on old leader = %q", got)
	}
	nl, err := c.WaitLeader(ctx, old)
	if err != nil {
		t.Fatal(err)
	}
	var nv string
	if err := nl.Node().Read(ctx, raftnode.Linearizable, func() { nv, _ = nl.KV.Get("k") }); err != nil || nv != "after" {
		t.Fatalf("new leader read %q, %v", nv, err)
	}
	c.Heal()
	if err := c.WaitApplied(ctx, old, nl.Node().Stats().CommitIndex); err != nil {
		t.Fatal(err)
	}
	if got, _ := old.Get("k"); got != "after" {
		t.Fatalf("healed old leader = %q", got)
	}
}

// leaseTimeout is raftnodetest.FastConfig's ReadLeaseTimeout.
var leaseTimeout = func() time.Duration {
	var c raftnode.Config
	raftnodetest.FastConfig(&c)
	return c.ReadLeaseTimeout
}()

func waitKnowsLeader(t *testing.T, ctx context.Context, m *raftnodetest.Member, id string) {
	t.Helper()
	for {
		if lid, _ := m.Node().Leader(); lid == id {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("%s never learnt that %s leads", m.ID, id)
		case <-time.After(20 * time.Millisecond):
		}
	}
}
