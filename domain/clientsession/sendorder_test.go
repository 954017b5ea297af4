package clientsession

import (
	"math/rand/v2"
	"slices"
	"testing"
)

// TestSendOrderMatchesScan drives the send order with random sends, re-sends and
// removals at non-decreasing times and checks that its oldest entry is always the
// minimum a linear scan finds, which is what NextDeadline used to compute.
func TestSendOrderMatchesScan(t *testing.T) {
	for seed := range uint64(50) {
		rng := rand.New(rand.NewPCG(seed, 1))
		var o sendOrder
		o.init()
		nodes := make([]*sent, 0, 64)
		var now int64
		for range 2000 {
			now += rng.Int64N(3)
			switch r := rng.IntN(10); {
			case r < 4 || len(nodes) == 0: // a new call is sent
				n := &sent{}
				o.touch(n, now)
				nodes = append(nodes, n)
			case r < 7: // a pending call is re-sent
				o.touch(nodes[rng.IntN(len(nodes))], now)
			default: // a call is answered
				i := rng.IntN(len(nodes))
				o.remove(nodes[i])
				o.remove(nodes[i]) // twice is harmless
				nodes = slices.Delete(nodes, i, i+1)
			}
			got, ok := o.oldest()
			if ok != (len(nodes) > 0) {
				t.Fatalf("seed %d: oldest ok=%v with %d nodes", seed, ok, len(nodes))
			}
			if !ok {
				continue
			}
			want := nodes[0].lastSent
			for _, n := range nodes {
				want = min(want, n.lastSent)
			}
			if got.lastSent != want {
				t.Fatalf("seed %d: oldest sent at %d, scan finds %d", seed, got.lastSent, want)
			}
			count := 0
			for n := o.root.next; n != &o.root; n = n.next {
				count++
			}
			if count != len(nodes) {
				t.Fatalf("seed %d: list holds %d, want %d", seed, count, len(nodes))
			}
		}
	}
}
