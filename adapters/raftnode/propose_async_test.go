package raftnode_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/zraft/zraft/adapters/raftnode"
	"github.com/zraft/zraft/adapters/raftnode/raftnodetest"
)

// Commands queued with ProposeAsync from one goroutine enter the log in call order (the
// server relies on it to keep one session's pipelined commands in order), and each
// proposal's Wait returns its own result.
func TestProposeAsyncKeepsCallOrder(t *testing.T) {
	checkNoLeaks(t)
	c := raftnodetest.New(t, raftnodetest.Options{})
	ctx := ctxFor(t, 90*time.Second)
	leader, err := c.WaitLeader(ctx)
	if err != nil {
		t.Fatal(err)
	}
	const n = 300
	pending := make([]*raftnode.Proposal, 0, n)
	for i := 0; i < n; i++ {
		p, err := leader.Node().ProposeAsync(ctx, raftnodetest.SetCmd(fmt.Sprintf("k%d", i), fmt.Sprint(i)))
		if err != nil {
			t.Fatalf("propose %d: %v", i, err)
		}
		pending = append(pending, p)
	}
	var prev uint64
	for i, p := range pending {
		res, err := p.Wait(ctx)
		if err != nil {
			t.Fatalf("wait %d: %v", i, err)
		}
		idx := res.(uint64) // the harness's KV answers a set with the index it applied at
		if idx <= prev {
			t.Fatalf("proposal %d applied at index %d, not after the previous one (%d)", i, idx, prev)
		}
		prev = idx
	}
	mustGet(t, leader, "k0", "0")
	mustGet(t, leader, fmt.Sprintf("k%d", n-1), fmt.Sprint(n-1))
}
