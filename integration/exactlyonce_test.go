package integration

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/zraft/zraft/client"
	"github.com/zraft/zraft/client/kv"
)

// sequenceWriter writes key = 1, 2, 3, … from one session, one call at a time, until
// stop is closed, and records which writes were acknowledged and which stayed in doubt
// (the call's context ended first; the command may still be applied, once).
type sequenceWriter struct {
	acked, inDoubt map[int]bool
	last           int
	err            error
}

func writeSequence(ctx context.Context, store *kv.Client, key string, stop <-chan struct{}) *sequenceWriter {
	w := &sequenceWriter{acked: map[int]bool{}, inDoubt: map[int]bool{}}
	for i := 1; ; i++ {
		select {
		case <-stop:
			return w
		default:
		}
		cctx, cancel := context.WithTimeout(ctx, 15*time.Second)
		err := store.Set(cctx, key, strconv.Itoa(i))
		cancel()
		w.last = i
		switch {
		case err == nil:
			w.acked[i] = true
		case ctx.Err() == nil && cctx.Err() != nil:
			w.inDoubt[i] = true
		default:
			w.err = fmt.Errorf("write %d: %w", i, err)
			return w
		}
	}
}

// collect gathers the values a watcher is pushed for key until stop is closed and no
// more arrive for quiet; still receiving two minutes after stop is an error.
func collect(cl *client.Client, stop <-chan struct{}, quiet time.Duration) ([]kv.Notification, error) {
	var got []kv.Notification
	stopped := false
	var drained <-chan time.Time
	for {
		var idle <-chan time.Time
		if stopped {
			idle = time.After(quiet)
		}
		select {
		case <-drained:
			return got, fmt.Errorf("still receiving 2 min after the writer stopped (%d so far)", len(got))
		case r, ok := <-cl.ServerRequests():
			if !ok {
				return got, fmt.Errorf("server requests closed after %d", len(got))
			}
			n, err := kv.ParseNotification(r)
			if err != nil {
				return got, err
			}
			got = append(got, n)
		case <-stop:
			stop, stopped = nil, true
			drained = time.After(2 * time.Minute)
		case <-idle:
			return got, nil
		}
	}
}

// checkApplied checks a watcher's notifications against the writer's record: ids 1, 2,
// 3, … without gaps or repeats; values strictly increasing (each write applied at most
// once, in order); every acknowledged write present; anything else only an in-doubt
// write. It returns how many writes were applied.
func checkApplied(t *testing.T, who string, w *sequenceWriter, got []kv.Notification) int {
	t.Helper()
	prev := 0
	seen := map[int]bool{}
	for i, n := range got {
		if n.ID != int64(i+1) {
			t.Fatalf("%s: notification %d has id %d: a gap or a repeat", who, i, n.ID)
		}
		v, err := strconv.Atoi(n.Value)
		if err != nil {
			t.Fatalf("%s: notification %d value %q", who, i, n.Value)
		}
		if v <= prev {
			t.Fatalf("%s: value %d after %d: applied twice or out of order", who, v, prev)
		}
		if !w.acked[v] && !w.inDoubt[v] {
			t.Fatalf("%s: value %d was never written", who, v)
		}
		prev = v
		seen[v] = true
	}
	for v := range w.acked {
		if !seen[v] {
			t.Fatalf("%s: acknowledged write %d never delivered", who, v)
		}
	}
	return len(got)
}

// Exactly once: a counter incremented through commands that the client re-sends often
// (every 300 ms, and after each failover) while the leader is killed twice ends at the
// number of acknowledged increments plus the in-doubt ones the final read shows applied,
// and no increment was applied twice.
func TestExactlyOnceCounter(t *testing.T) {
	c, ctx := newCluster(t, 8*time.Minute)
	watcher := dial(ctx, t, c, "")
	must(t, kv.New(watcher).Watch(ctx, "ctr"))
	counter := kv.New(dial(ctx, t, c, "", client.WithResendInterval(300*time.Millisecond)))

	stop := make(chan struct{})
	var w *sequenceWriter
	var wg sync.WaitGroup
	wg.Go(func() { w = writeSequence(ctx, counter, "ctr", stop) })
	var got []kv.Notification
	var collectErr error
	wg.Go(func() { got, collectErr = collect(watcher, stop, 5*time.Second) })
	for range 2 {
		time.Sleep(5 * time.Second)
		l, err := c.Leader(ctx)
		must(t, err)
		t.Logf("killing leader %s", l.ID)
		must(t, l.Kill(ctx))
		time.Sleep(3 * time.Second)
		must(t, l.Start(ctx))
		must(t, c.WaitReady(ctx, c.Members...))
	}
	time.Sleep(3 * time.Second)
	close(stop)
	wg.Wait()
	must(t, w.err)
	must(t, collectErr)
	applied := checkApplied(t, "watcher", w, got)
	// The final read settles the in-doubt increments: the counter is the last applied.
	v, _, err := counter.Get(ctx, "ctr")
	must(t, err)
	final, _ := strconv.Atoi(v)
	if len(got) > 0 && final != mustAtoi(t, got[len(got)-1].Value) {
		t.Fatalf("final read %d, last pushed %s", final, got[len(got)-1].Value)
	}
	inDoubtApplied := applied - len(w.acked)
	t.Logf("%d increments acknowledged, %d in doubt of which %d applied; counter applied %d times, final value %d",
		len(w.acked), len(w.inDoubt), inDoubtApplied, applied, final)
	if inDoubtApplied < 0 || inDoubtApplied > len(w.inDoubt) {
		t.Fatalf("applied %d, acknowledged %d, in doubt %d", applied, len(w.acked), len(w.inDoubt))
	}
}

// Push delivery: while the nemesis kills, pauses and partitions members, two watchers
// receive every change of the key exactly once and in order, across their reconnects
// and the leader changes (after which the new leader re-sends what they had not
// acknowledged).
func TestPushDeliveryUnderFaults(t *testing.T) {
	c, ctx := newCluster(t, 8*time.Minute)
	watchers := []*client.Client{dial(ctx, t, c, ""), dial(ctx, t, c, "")}
	for _, wc := range watchers {
		must(t, kv.New(wc).Watch(ctx, "push"))
	}
	writer := kv.New(dial(ctx, t, c, ""))

	stop := make(chan struct{})
	var w *sequenceWriter
	got := make([][]kv.Notification, len(watchers))
	errs := make([]error, len(watchers))
	var wg sync.WaitGroup
	wg.Go(func() { w = writeSequence(ctx, writer, "push", stop) })
	for i, wc := range watchers {
		wg.Go(func() { got[i], errs[i] = collect(wc, stop, 10*time.Second) })
	}
	runCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	nem := newNemesis(t, c)
	nemErr := nem.run(runCtx)
	cancel()
	close(stop)
	wg.Wait()
	must(t, nemErr)
	must(t, w.err)
	for i := range watchers {
		must(t, errs[i])
		n := checkApplied(t, fmt.Sprintf("watcher %d", i), w, got[i])
		t.Logf("watcher %d: %d changes in order, exactly once (%d acknowledged writes, %d in doubt, %d faults)",
			i, n, len(w.acked), len(w.inDoubt), nem.faults())
	}
	if len(got[0]) != len(got[1]) {
		t.Fatalf("watchers saw %d and %d changes", len(got[0]), len(got[1]))
	}
}

func mustAtoi(t *testing.T, s string) int {
	t.Helper()
	v, err := strconv.Atoi(s)
	must(t, err)
	return v
}
