package integration

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"
)

// nemesis injects one fault at a time into a cluster: SIGKILL and restart, pause and
// unpause, or a cut off the Raft network and back, each on a random member, healing
// each before the next. Every fault is logged, with the seed that chose them.
type nemesis struct {
	t    *testing.T
	c    *Cluster
	rng  *rand.Rand
	mu   sync.Mutex
	done []string
}

func newNemesis(t *testing.T, c *Cluster) *nemesis {
	seed := uint64(time.Now().UnixNano())
	t.Logf("nemesis seed %d", seed)
	return &nemesis{t: t, c: c, rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))}
}

// run injects faults until ctx ends, then heals and waits until every member is ready.
func (n *nemesis) run(ctx context.Context) error {
	kinds := []string{"kill", "pause", "partition"}
	for i := 0; ctx.Err() == nil; i++ {
		m := n.c.Members[n.rng.IntN(len(n.c.Members))]
		kind := kinds[i%len(kinds)]
		if err := n.fault(kind, m); err != nil {
			return err
		}
		select {
		case <-ctx.Done():
		case <-time.After(3 * time.Second):
		}
	}
	rctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	return n.c.WaitReady(rctx, n.c.Members...)
}

// fault injects one fault for a few seconds and heals it, whatever the test's context.
func (n *nemesis) fault(kind string, m *Member) error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	hold := 3*time.Second + time.Duration(n.rng.IntN(2000))*time.Millisecond
	n.record(fmt.Sprintf("%s %s for %v", kind, m.ID, hold))
	var inject, heal func(context.Context) error
	switch kind {
	case "kill":
		inject, heal = m.Kill, m.Start
	case "pause":
		inject, heal = m.Pause, m.Unpause
	default:
		inject, heal = m.Disconnect, m.Reconnect
	}
	if err := inject(ctx); err != nil {
		return err
	}
	time.Sleep(hold)
	return heal(ctx)
}

func (n *nemesis) record(s string) {
	n.mu.Lock()
	defer n.mu.Unlock()
	n.done = append(n.done, s)
	n.t.Logf("nemesis: %s", s)
}

func (n *nemesis) faults() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	return len(n.done)
}
