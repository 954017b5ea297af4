package raftnode

import (
	"io"

	"github.com/hashicorp/raft"
)

// StateMachine is what the node applies committed commands to (a consumer-owned port).
// The node calls its methods one at a time, under the apply lock, never concurrently.
type StateMachine interface {
	// Apply applies one committed command. It must be deterministic: the same commands
	// in the same order give the same results and state on every member. data must not
	// be modified or retained after Apply returns. The result is handed to the Propose
	// call that proposed the command, on the member that proposed it.
	Apply(index, term uint64, data []byte) any
	// Snapshot captures the current state, point in time. It runs under the apply lock,
	// so it should be cheap (copy or freeze); the Snapshot's Persist runs later,
	// concurrently with Apply.
	Snapshot() (Snapshot, error)
	// Restore replaces the whole state with the one read from r (what Persist wrote).
	Restore(r io.Reader) error
}

// Snapshot is a point-in-time state captured by StateMachine.Snapshot.
type Snapshot interface {
	// Persist writes the state to w. It may run concurrently with Apply.
	Persist(w io.Writer) error
	// Release is called once the snapshot is no longer needed (after Persist or on abort).
	Release()
}

// Stores are the durable parts of a member, opened by a StoreFactory.
type Stores struct {
	Log       raft.LogStore
	Stable    raft.StableStore
	Snapshots raft.SnapshotStore
	// Close releases the stores; called once when the node closes. May be nil.
	Close func() error
}

// StoreFactory opens the stores of a member whose data lives under dataDir.
type StoreFactory func(dataDir string) (Stores, error)
