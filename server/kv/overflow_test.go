package kv_test

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/zraft/zraft/domain/session"
	"github.com/zraft/zraft/server/kv"
)

func wantStats(t *testing.T, h *harness, want kv.Stats) {
	t.Helper()
	if got := h.app.Stats(); got != want {
		t.Fatalf("stats\n got %+v\nwant %+v", got, want)
	}
}

// A full queue is counted, the key remembered, and the watcher gets the key's then-current
// value once its queue has room and the App runs again.
func TestFullQueueIsCountedAndCaughtUp(t *testing.T) {
	h := newHarness(t, session.Config{MaxPendingRequests: 2})
	h.create("w")
	h.create("x")
	for _, k := range []string{"k1", "k2", "k3"} {
		h.watch("w", k)
	}
	sameNotes(t, "k1=a", h.set("x", "k1", "a").ServerRequests, note{"w", 1, "k1", "a"})
	sameNotes(t, "k2=b", h.set("x", "k2", "b").ServerRequests, note{"w", 2, "k2", "b"})
	sameNotes(t, "k1=c, queue full", h.set("x", "k1", "c").ServerRequests)
	sameNotes(t, "k3=d, queue full", h.set("x", "k3", "d").ServerRequests)
	sameNotes(t, "k1=e, queue full", h.set("x", "k1", "e").ServerRequests)
	wantStats(t, h, kv.Stats{Keys: 3, WatchedKeys: 3, Watches: 3, LaggingSessions: 1, Missed: 2, Overflows: 3})

	h.ack("w", 1) // acks do not reach the App: nothing is sent yet
	wantStats(t, h, kv.Stats{Keys: 3, WatchedKeys: 3, Watches: 3, LaggingSessions: 1, Missed: 2, Overflows: 3})

	// The internal Flush command catches up as far as the queue allows, keys in order.
	res := h.apply(session.Internal{At: h.tick(), Payload: kv.FlushCommand()})
	if o := res.Outcomes[0]; o.Kind != session.Replied || len(o.Data) != 0 {
		t.Fatalf("flush: %+v", o)
	}
	sameNotes(t, "flush", res.ServerRequests, note{"w", 3, "k1", "e"})
	wantStats(t, h, kv.Stats{Keys: 3, WatchedKeys: 3, Watches: 3, LaggingSessions: 1, Missed: 1, Overflows: 3})

	// Any command catches up before its own effects: k3 first, then the new value of k1.
	h.ack("w", 3)
	sameNotes(t, "k1=f after ack", h.set("x", "k1", "f").ServerRequests, note{"w", 4, "k3", "d"}, note{"w", 5, "k1", "f"})
	wantStats(t, h, kv.Stats{Keys: 3, WatchedKeys: 3, Watches: 3, Overflows: 3})
}

// A missed change followed by a delivered one of the same key is not sent twice, and a
// watch that finds the queue full is caught up like a change.
func TestFullQueueSupersededAndWatch(t *testing.T) {
	h := newHarness(t, session.Config{MaxPendingRequests: 1})
	h.create("w")
	h.create("x")
	h.set("x", "k", "v1")
	h.set("x", "j", "j1")
	sameNotes(t, "watch k", h.watch("w", "k").ServerRequests, note{"w", 1, "k", "v1"})
	sameNotes(t, "watch j, queue full", h.watch("w", "j").ServerRequests)
	sameNotes(t, "k=v2, queue full", h.set("x", "k", "v2").ServerRequests)
	wantStats(t, h, kv.Stats{Keys: 2, WatchedKeys: 2, Watches: 2, LaggingSessions: 1, Missed: 2, Overflows: 2})
	h.ack("w", 1)
	// Room for one: the flush sends j (sorted first); k stays missed.
	sameNotes(t, "unrelated set", h.set("x", "z", "z").ServerRequests, note{"w", 2, "j", "j1"})
	h.ack("w", 2)
	// k's missed change is sent by the flush, then k=v3 finds the queue full again, and
	// k stays missed for v3.
	sameNotes(t, "k=v3", h.set("x", "k", "v3").ServerRequests, note{"w", 3, "k", "v2"})
	wantStats(t, h, kv.Stats{Keys: 3, WatchedKeys: 2, Watches: 2, LaggingSessions: 1, Missed: 1, Overflows: 3})

	// Closing the lagging session leaves nothing behind.
	h.apply(session.CloseSession{At: h.tick(), Session: "w"})
	wantStats(t, h, kv.Stats{Keys: 3, Overflows: 3})
}

// Random writes, watches, acks and flushes with a tiny queue: every notification carries
// the key's value at the time it is emitted, and once every queue is drained each watcher's
// last notification of each key is the key's current value (nothing lost). A second
// machine fed the same log ends with the same snapshot.
func TestRandomOverflowNeverLosesTheLatestValue(t *testing.T) {
	for seed := range uint64(20) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed, 42))
			h := newHarness(t, session.Config{MaxPendingRequests: 1 + int(seed%3)})
			sessions := []string{"s0", "s1", "s2"}
			keys := []string{"a", "b", "c", "d"}
			for _, s := range sessions {
				h.create(s)
			}
			cur := map[string]string{}
			lastSeq := map[string]uint64{}
			watching := map[string]map[string]bool{}
			owed := map[[2]string]bool{} // (session, key) that must end on the current value
			last := map[[2]string]string{}
			for s := range sessions {
				watching[sessions[s]] = map[string]bool{}
			}

			check := func(res session.Result, before map[string]string) {
				t.Helper()
				for _, n := range notes(t, res.ServerRequests) {
					if n.Seq != lastSeq[n.Session]+1 {
						t.Fatalf("%v: sequence gap after %d", n, lastSeq[n.Session])
					}
					lastSeq[n.Session] = n.Seq
					if !watching[n.Session][n.Key] {
						t.Fatalf("%v: not watching", n)
					}
					if n.Value != before[n.Key] && n.Value != cur[n.Key] {
						t.Fatalf("%v: value neither %q nor %q", n, before[n.Key], cur[n.Key])
					}
					last[[2]string{n.Session, n.Key}] = n.Value
				}
			}
			for range 400 {
				before := clone(cur)
				s := sessions[rng.IntN(len(sessions))]
				k := keys[rng.IntN(len(keys))]
				var res session.Result
				switch op := rng.IntN(10); {
				case op < 4:
					v := fmt.Sprint(rng.IntN(100))
					cur[k] = v
					res = h.set(s, k, v)
					owe(owed, watching, k)
				case op < 5:
					_, present := cur[k]
					delete(cur, k)
					res = h.del(s, k)
					if present {
						owe(owed, watching, k)
					}
				case op < 7:
					if !watching[s][k] {
						watching[s][k] = true
						if _, ok := cur[k]; ok {
							owed[[2]string{s, k}] = true
						}
					}
					res = h.watch(s, k)
				case op < 9:
					h.ack(s, lastSeq[s])
				default:
					res = h.apply(session.Internal{At: h.tick(), Payload: kv.FlushCommand()})
				}
				check(res, before)
			}
			// Drain: ack everything and flush until nothing is missed.
			for i := 0; h.app.Stats().Missed > 0; i++ {
				if i > 100 {
					t.Fatalf("not drained: %+v", h.app.Stats())
				}
				for _, s := range sessions {
					h.ack(s, lastSeq[s])
				}
				check(h.apply(session.Internal{At: h.tick(), Payload: kv.FlushCommand()}), cur)
			}
			for sk := range owed {
				if got, want := last[sk], cur[sk[1]]; got != want {
					t.Fatalf("%s's last notification of %s: %q, want %q", sk[0], sk[1], got, want)
				}
			}
			if h.app.Stats().Overflows == 0 && seed%3 == 0 {
				t.Fatalf("seed %d never overflowed: the test does not test overflow", seed)
			}

			replica := newHarness(t, session.Config{MaxPendingRequests: 1 + int(seed%3)})
			for i, e := range h.log {
				if _, err := replica.m.ApplyEntry(uint64(i+1), e); err != nil {
					t.Fatal(err)
				}
			}
			mustEqualBytes(t, "replica snapshot", replica.snapshot(), h.snapshot())
		})
	}
}

func owe(owed map[[2]string]bool, watching map[string]map[string]bool, k string) {
	for s, keys := range watching {
		if keys[k] {
			owed[[2]string{s, k}] = true
		}
	}
}

func clone(m map[string]string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}
