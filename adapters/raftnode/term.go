package raftnode

import (
	"fmt"
	"log/slog"
)

// keyCurrentTerm is hashicorp/raft's stable-store key of the current term.
var keyCurrentTerm = []byte("CurrentTerm")

// raiseTermToSnapshot makes the stored current term at least the newest snapshot's
// term. raft starts from the stored term and does not look at the snapshot's, so a
// data dir holding a copied snapshot without the stable store it came with (the
// restore of a snapshot taken from a running member) would elect its leaders in terms
// below the snapshot's: entries of a lower term would follow the snapshot's, and a
// member still at the snapshot would count as more up to date than one holding later,
// committed entries. Raising the term is always safe: no vote is recorded for it, and a
// member may always adopt a higher term than it has seen.
func raiseTermToSnapshot(s Stores, log *slog.Logger) error {
	if s.Snapshots == nil || s.Stable == nil {
		return nil // raft.NewRaft reports it
	}
	snaps, err := s.Snapshots.List()
	if err != nil {
		return fmt.Errorf("raftnode: list snapshots: %w", err)
	}
	if len(snaps) == 0 {
		return nil
	}
	newest := snaps[0].Term // List returns the newest first
	term, err := s.Stable.GetUint64(keyCurrentTerm)
	if err != nil && err.Error() != "not found" { // raft's own test for a missing key
		return fmt.Errorf("raftnode: read the current term: %w", err)
	}
	if term >= newest {
		return nil
	}
	if err := s.Stable.SetUint64(keyCurrentTerm, newest); err != nil {
		return fmt.Errorf("raftnode: raise the current term: %w", err)
	}
	log.Warn("raftnode: the stored term was below the newest snapshot's (a restored snapshot?): raised it",
		"term", term, "snapshot_term", newest, "snapshot", snaps[0].ID)
	return nil
}
