package raftnode_test

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/zraft/zraft/adapters/raftnode"
	"github.com/zraft/zraft/adapters/raftnode/raftnodetest"
)

func leaderStarted(cfg *raftnode.Config) {
	cfg.LeaderStartedCommand = func(term uint64) []byte {
		return raftnodetest.SetCmd("leader-started", strconv.FormatUint(term, 10))
	}
}

// waitEvent returns the first event on sub that satisfies ok.
func waitEvent(t *testing.T, ctx context.Context, sub *raftnode.Subscription, ok func(raftnode.Event) bool) raftnode.Event {
	t.Helper()
	for {
		select {
		case ev, open := <-sub.C():
			if !open {
				t.Fatal("subscription closed")
			}
			if ok(ev) {
				return ev
			}
		case <-ctx.Done():
			t.Fatal("no matching event")
		}
	}
}

func TestBecameLeaderAfterLeaderStartedIsApplied(t *testing.T) {
	checkNoLeaks(t)
	c := raftnodetest.New(t, raftnodetest.Options{Configure: leaderStarted})
	ctx := ctxFor(t, 90*time.Second)
	subs := map[*raftnodetest.Member]*raftnode.Subscription{}
	for _, m := range c.Members() {
		subs[m] = m.Node().Subscribe()
	}
	check := func(m *raftnodetest.Member, ev raftnode.Event) {
		t.Helper()
		// When subscribers learn of the leadership, the leader-started command of that
		// very term is already applied: it was proposed first.
		if got, _ := m.Get("leader-started"); got != strconv.FormatUint(ev.Term, 10) {
			t.Fatalf("%s became leader in term %d but leader-started = %q", m.ID, ev.Term, got)
		}
		if ev.Leader.ID != m.ID || ev.Leader.ClientEndpoint != "tcp://"+m.ID+".client:7001" {
			t.Fatalf("leader event %+v", ev)
		}
	}
	leader, err := c.WaitLeader(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ev := waitEvent(t, ctx, subs[leader], func(e raftnode.Event) bool { return e.Role == raftnode.RoleLeader })
	check(leader, ev)
	firstTerm := ev.Term

	c.Kill(leader)
	next, err := c.WaitLeader(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ev = waitEvent(t, ctx, subs[next], func(e raftnode.Event) bool { return e.Role == raftnode.RoleLeader })
	if ev.Term <= firstTerm {
		t.Fatalf("new term %d <= %d", ev.Term, firstTerm)
	}
	check(next, ev)
	// The third member hears of the new leader with its client endpoint.
	for _, m := range c.Running() {
		if m == next {
			continue
		}
		ev := waitEvent(t, ctx, subs[m], func(e raftnode.Event) bool { return e.Leader.ID == next.ID })
		if ev.Role != raftnode.RoleFollower || ev.Leader.ClientEndpoint != "tcp://"+next.ID+".client:7001" {
			t.Fatalf("%s: %+v", m.ID, ev)
		}
	}
	// A killed member's subscription ends with a shutdown event.
	ev = waitEvent(t, ctx, subs[leader], func(e raftnode.Event) bool { return e.Role == raftnode.RoleShutdown })
	if ev.Kind != raftnode.EventShutdown {
		t.Fatalf("kind %d", ev.Kind)
	}
	if _, open := <-subs[leader].C(); open {
		t.Fatal("channel open after shutdown event")
	}
}

func TestSlowSubscriberGetsLatestState(t *testing.T) {
	checkNoLeaks(t)
	c := raftnodetest.New(t, raftnodetest.Options{InMemory: true})
	ctx := ctxFor(t, 60*time.Second)
	leader, err := c.WaitLeader(ctx)
	if err != nil {
		t.Fatal(err)
	}
	sub := leader.Node().Subscribe()
	defer sub.Close()
	first := <-sub.C()
	if first.Kind != raftnode.EventInitial || first.Role != raftnode.RoleLeader {
		t.Fatalf("initial %+v", first)
	}
	// Several membership changes while nobody reads: the one-slot channel ends up with
	// the latest state, never blocking the node.
	for i := 0; i < 2; i++ {
		if _, err := c.AddMember(ctx); err != nil {
			t.Fatal(err)
		}
	}
	for {
		select {
		case ev := <-sub.C():
			if ev.Seq <= first.Seq {
				t.Fatalf("seq went back: %d after %d", ev.Seq, first.Seq)
			}
			if len(ev.Members) == 5 {
				return
			}
			first = ev
		case <-ctx.Done():
			t.Fatal("never saw 5 members")
		}
	}
}

func TestConcurrentProposalsGetTheirOwnResults(t *testing.T) {
	checkNoLeaks(t)
	c := raftnodetest.New(t, raftnodetest.Options{})
	ctx := ctxFor(t, 90*time.Second)
	const workers, each = 32, 25
	var mu sync.Mutex
	seen := map[uint64]string{}
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; i++ {
				key := fmt.Sprintf("w%d-%d", w, i)
				// Through the harness: a leader change under load makes it retry (a retried
				// command may apply twice; each result is still that application's index).
				res, err := c.Propose(ctx, raftnodetest.SetCmd(key, key))
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				if prev, dup := seen[res.(uint64)]; dup {
					t.Errorf("index %d returned to %s and %s", res, prev, key)
				}
				seen[res.(uint64)] = key
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if len(seen) != workers*each {
		t.Fatalf("%d results", len(seen))
	}
	// Each result is the index at which that very command was applied: the key written
	// there is the proposer's.
	leader, err := c.WaitLeader(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for idx, key := range seen {
		var v string
		_ = leader.Node().Read(ctx, raftnode.Stale, func() { v, _ = leader.KV.Get(key) })
		if v != key {
			t.Fatalf("index %d: %s = %q", idx, key, v)
		}
	}
	// A malformed command is a state machine result (an error value), not a node error.
	res, err := c.Propose(ctx, []byte("junk"))
	if err != nil || res != raftnodetest.ErrBadCommand {
		t.Fatalf("junk: %v %v", res, err)
	}
	st := leader.Node().Stats()
	t.Logf("leader stored %d entries in %d writes", st.StoredEntries, st.StoreCalls)
}

func TestProposeHonoursContextAndShutdown(t *testing.T) {
	checkNoLeaks(t)
	c := raftnodetest.New(t, raftnodetest.Options{})
	ctx := ctxFor(t, 60*time.Second)
	leader, err := c.WaitLeader(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// Without a quorum nothing commits; the caller's deadline ends the wait.
	for _, m := range c.Members() {
		if m != leader {
			c.Kill(m)
		}
	}
	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if _, err := leader.Node().Propose(short, raftnodetest.SetCmd("a", "b")); err == nil {
		t.Fatal("proposal committed without a quorum")
	}
	node := leader.Node()
	c.Kill(leader)
	if _, err := node.Propose(ctx, raftnodetest.SetCmd("a", "b")); err != raftnode.ErrShutdown {
		t.Fatalf("after close: %v", err)
	}
	if err := node.Read(ctx, raftnode.Linearizable, func() {}); err != raftnode.ErrShutdown {
		t.Fatalf("read after close: %v", err)
	}
}

func TestGracefulShutdownTransfersLeadership(t *testing.T) {
	checkNoLeaks(t)
	// Slow failure detection: without a transfer, a new leader needs at least 4s (a
	// follower's heartbeat timeout); with one it takes a round trip or two.
	c := raftnodetest.New(t, raftnodetest.Options{Configure: func(cfg *raftnode.Config) {
		cfg.HeartbeatTimeout = 4 * time.Second
		cfg.ElectionTimeout = 4 * time.Second
		cfg.LeaderLeaseTimeout = 4 * time.Second
		cfg.ReadLeaseTimeout = time.Second
	}})
	ctx := ctxFor(t, 90*time.Second)
	leader, err := c.WaitLeader(ctx)
	if err != nil {
		t.Fatal(err)
	}
	proposeN(t, ctx, c, "a", 5)
	if err := leader.Node().Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	c.Kill(leader)
	quick, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	if _, err := c.WaitLeader(quick); err != nil {
		t.Fatalf("no leader soon after a graceful shutdown: %v", err)
	}
	proposeN(t, ctx, c, "b", 5)
}

// Closing a leader under load must not hang: hashicorp/raft drops queued futures at
// shutdown, so results travel by proposal tag and every waiter is failed on Close.
func TestCloseUnderLoadReturnsEveryProposal(t *testing.T) {
	checkNoLeaks(t)
	c := raftnodetest.New(t, raftnodetest.Options{})
	ctx := ctxFor(t, 90*time.Second)
	leader, err := c.WaitLeader(ctx)
	if err != nil {
		t.Fatal(err)
	}
	node := leader.Node()
	var wg sync.WaitGroup
	var ok, failed atomic.Int64
	for w := 0; w < 64; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				_, err := node.Propose(ctx, raftnodetest.SetCmd(fmt.Sprintf("w%d-%d", w, i), "v"))
				if err != nil {
					failed.Add(1)
					return
				}
				ok.Add(1)
			}
		}()
	}
	for ok.Load() < 500 {
		select {
		case <-ctx.Done():
			t.Fatal("no progress")
		case <-time.After(10 * time.Millisecond):
		}
	}
	c.Kill(leader)
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		t.Fatal("proposals still waiting after Close")
	}
	t.Logf("%d proposals committed, %d failed at close", ok.Load(), failed.Load())
}
