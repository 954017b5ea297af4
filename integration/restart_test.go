package integration

import (
	"context"
	"fmt"
	"sort"
	"testing"
	"time"

	"github.com/zraft/zraft/client/kv"
)

// Scenario 9: every member is stopped (SIGTERM) and started again, one after the other,
// while a client writes. No call returns an error; the restarts only add latency.
func TestRollingRestart(t *testing.T) {
	c, ctx := newCluster(t, 8*time.Minute)
	store := kv.New(dial(ctx, t, c, ""))

	type result struct {
		n         int
		latencies []time.Duration
		err       error
	}
	stop := make(chan struct{})
	done := make(chan result, 1)
	go func() {
		var r result
		defer func() { done <- r }()
		for {
			select {
			case <-stop:
				return
			default:
			}
			start := time.Now()
			wctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
			err := store.Set(wctx, "roll", fmt.Sprint(r.n))
			cancel()
			if err != nil {
				r.err = fmt.Errorf("write %d: %w", r.n, err)
				return
			}
			r.latencies = append(r.latencies, time.Since(start))
			r.n++
			time.Sleep(20 * time.Millisecond)
		}
	}()
	for _, m := range c.Members {
		time.Sleep(time.Second)
		must(t, m.Stop(ctx))
		must(t, m.Start(ctx))
		must(t, c.WaitReady(ctx, c.Members...))
		t.Logf("restarted %s", m.ID)
	}
	time.Sleep(2 * time.Second)
	close(stop)
	r := <-done
	if r.err != nil {
		t.Fatalf("the client saw an error during the rolling restart: %v", r.err)
	}
	sort.Slice(r.latencies, func(i, j int) bool { return r.latencies[i] < r.latencies[j] })
	t.Logf("%d writes, latency p50 %v, p99 %v, max %v", r.n,
		r.latencies[len(r.latencies)/2], r.latencies[len(r.latencies)*99/100], r.latencies[len(r.latencies)-1])
	if v, _, err := store.Get(ctx, "roll"); err != nil || v != fmt.Sprint(r.n-1) {
		t.Fatalf("roll = %q %v, want %d", v, err, r.n-1)
	}
}

// Scenario 10: every member is killed with SIGKILL at once and started again; every
// acknowledged write is still there.
func TestKillAllMembers(t *testing.T) {
	c, ctx := newCluster(t, 6*time.Minute)
	store := kv.New(dial(ctx, t, c, ""))
	const n = 100
	for i := range n {
		must(t, store.Set(ctx, fmt.Sprintf("k%03d", i), fmt.Sprint(i)))
	}
	for _, m := range c.Members {
		must(t, m.Kill(ctx))
	}
	for _, m := range c.Members {
		must(t, m.Start(ctx))
	}
	must(t, c.WaitReady(ctx, c.Members...))
	// A new session reads everything the old one was told was written.
	fresh := kv.New(dial(ctx, t, c, ""))
	for i := range n {
		v, found, err := fresh.Get(ctx, fmt.Sprintf("k%03d", i))
		if err != nil || !found || v != fmt.Sprint(i) {
			t.Fatalf("k%03d = %q %v %v after kill -9 of every member", i, v, found, err)
		}
	}
	// The old session survived too (the restart began a new leader's grace period).
	if v, _, err := store.Get(ctx, "k099"); err != nil || v != "99" {
		t.Fatalf("old session: k099 = %q %v", v, err)
	}
}
