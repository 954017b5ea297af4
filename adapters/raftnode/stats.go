package raftnode

import (
	"strconv"
	"sync/atomic"

	"github.com/hashicorp/raft"
)

// countingLogStore counts StoreLogs calls (one fsync each with a synced store) and the
// entries they carry, to measure how well proposals are batched.
type countingLogStore struct {
	raft.LogStore
	calls   atomic.Uint64
	entries atomic.Uint64
}

// IsMonotonic implements raft.MonotonicLogStore by asking the wrapped store: hiding it
// would change how raft compacts the log after a snapshot install.
func (c *countingLogStore) IsMonotonic() bool {
	m, ok := c.LogStore.(raft.MonotonicLogStore)
	return ok && m.IsMonotonic()
}

// StoreLog implements raft.LogStore.
func (c *countingLogStore) StoreLog(l *raft.Log) error {
	c.calls.Add(1)
	c.entries.Add(1)
	return c.LogStore.StoreLog(l)
}

// StoreLogs implements raft.LogStore.
func (c *countingLogStore) StoreLogs(logs []*raft.Log) error {
	c.calls.Add(1)
	c.entries.Add(uint64(len(logs)))
	return c.LogStore.StoreLogs(logs)
}

// Stats are counters and indexes of one member, for tests, benchmarks and metrics.
type Stats struct {
	// StoreCalls counts log writes (StoreLog/StoreLogs calls, one fsync each on a synced
	// store) since the node started; StoredEntries counts the entries they carried.
	StoreCalls, StoredEntries uint64
	Term                      uint64
	LastIndex                 uint64
	CommitIndex               uint64
	// AppliedIndex is the highest index the state machine (not merely raft) has applied.
	AppliedIndex uint64
	// LastSnapshotIndex is the index of the newest snapshot taken or installed.
	LastSnapshotIndex uint64
	// ReadRounds counts leadership confirmation rounds run for reads (shared by all the
	// reads that arrived while the previous round was in flight).
	ReadRounds uint64
}

// Stats returns the member's current counters.
func (n *Node) Stats() Stats {
	applied, _ := n.fsm.appliedIndex()
	// raft exposes the snapshot index only through its informational stats map.
	snapIdx, _ := strconv.ParseUint(n.raft.Stats()["last_snapshot_index"], 10, 64)
	return Stats{
		StoreCalls:        n.logStore.calls.Load(),
		StoredEntries:     n.logStore.entries.Load(),
		Term:              n.raft.CurrentTerm(),
		LastIndex:         n.raft.LastIndex(),
		CommitIndex:       n.raft.CommitIndex(),
		AppliedIndex:      applied,
		LastSnapshotIndex: snapIdx,
		ReadRounds:        n.rounds.Load(),
	}
}
