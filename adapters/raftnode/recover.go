package raftnode

import (
	"errors"
	"fmt"

	"github.com/hashicorp/raft"
)

// ErrNoState: RecoverCluster found no Raft state (no log, no term, no snapshot) in the
// data dir, which is almost always a wrong path.
var ErrNoState = errors.New("raftnode: no raft state to recover")

// RecoverCluster rewrites the Raft configuration of a stopped member's data dir so that
// the member, started again with New, belongs to a cluster whose voters are exactly
// members: hashicorp/raft's RecoverCluster over the member's stores. Use it to restore a
// copy of one member's data dir onto members with different ids or Raft addresses
// (fewer or more of them than before), or to bring up the survivors of a cluster that
// lost its quorum for good.
//
// cfg names the member that will run on the data dir: MemberID (it must be one of
// members), DataDir and Stores (default PebbleStores, as New uses); Logger and the
// snapshot settings are used too, BindAddr and the timeouts are not. sm is a new, empty
// instance of the state machine the member runs: the newest readable snapshot is
// restored into it and every log entry after it is applied to it (including entries
// that were never committed: the recovered state is everything this member had
// received), its state is written as a new snapshot carrying the new configuration,
// and the log is emptied. The results of those Apply calls are discarded. Nothing of
// the old configuration is kept: the replicated client endpoints are those of members
// (an empty ClientEndpoint keeps the one the state knew for the same id, if any).
//
// Every member of the new cluster must start from a data dir recovered with the same
// members, normally copies of one data dir (each recovered with its own MemberID);
// members started empty are not voters of the recovered configuration until a leader
// adds them. The member must not be running: the stores are opened here, exclusively.
// A data dir without Raft state returns ErrNoState; an invalid cfg or members list,
// ErrInvalidConfig.
func RecoverCluster(cfg Config, sm StateMachine, members []Member) (err error) {
	cfg = cfg.WithDefaults()
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrInvalidConfig, fmt.Sprintf(format, args...))
	}
	if sm == nil {
		return bad("nil StateMachine")
	}
	if cfg.MemberID == "" {
		return bad("MemberID is required")
	}
	if len(members) == 0 {
		return bad("recovering needs at least one member")
	}
	var servers []raft.Server
	seenID, seenAddr, self := map[string]bool{}, map[string]bool{}, false
	for _, m := range members {
		switch {
		case m.ID == "" || m.RaftAddr == "":
			return bad("member %q needs an ID and a RaftAddr", m.ID)
		case len(m.ID) > 0xffff || len(m.ClientEndpoint) > 0xffff:
			return bad("member ID or endpoint longer than 64 KiB")
		case seenID[m.ID] || seenAddr[m.RaftAddr]:
			return bad("member %q or Raft address %q listed twice", m.ID, m.RaftAddr)
		}
		if err := checkAdvertise(m.RaftAddr); err != nil {
			return bad("member %q: RaftAddr %q: %v", m.ID, m.RaftAddr, err)
		}
		seenID[m.ID], seenAddr[m.RaftAddr] = true, true
		self = self || m.ID == cfg.MemberID
		servers = append(servers, raft.Server{Suffrage: raft.Voter, ID: raft.ServerID(m.ID), Address: raft.ServerAddress(m.RaftAddr)})
	}
	if !self {
		return bad("members do not include %q", cfg.MemberID)
	}
	log := cfg.Logger.With("member", cfg.MemberID)
	stores, err := cfg.Stores(cfg.DataDir)
	if err != nil {
		return fmt.Errorf("raftnode: open stores: %w", err)
	}
	defer func() {
		if stores.Close != nil {
			err = errors.Join(err, stores.Close())
		}
	}()
	has, err := raft.HasExistingState(stores.Log, stores.Stable, stores.Snapshots)
	if err != nil {
		return fmt.Errorf("raftnode: recover: %w", err)
	}
	if !has {
		return fmt.Errorf("%w in %q", ErrNoState, cfg.DataDir)
	}
	last, err := lastKnownIndex(stores)
	if err != nil {
		return fmt.Errorf("raftnode: recover: %w", err)
	}
	f := &recoveryFSM{fsm: newFSM(sm, log), members: members, last: last}
	// The snapshot store asks the transport only to encode peer addresses; the in-memory
	// transport starts nothing.
	_, trans := raft.NewInmemTransport(raft.ServerAddress(cfg.MemberID))
	defer func() { _ = trans.Close() }()
	rc := cfg.raftConfig(log)
	if err = raft.RecoverCluster(rc, f, stores.Log, stores.Stable, stores.Snapshots, trans, raft.Configuration{Servers: servers}); err != nil {
		return fmt.Errorf("raftnode: recover: %w", err)
	}
	log.Info("raftnode: recovered the data dir with a new configuration", "dir", cfg.DataDir, "members", len(members), "index", last)
	return nil
}

// lastKnownIndex is the index RecoverCluster's snapshot will carry: the last log entry's,
// or the newest snapshot's when the log ends before it.
func lastKnownIndex(s Stores) (uint64, error) {
	last, err := s.Log.LastIndex()
	if err != nil {
		return 0, err
	}
	snaps, err := s.Snapshots.List()
	if err != nil {
		return 0, err
	}
	if len(snaps) > 0 && snaps[0].Index > last {
		last = snaps[0].Index
	}
	return last, nil
}

// recoveryFSM is the node's FSM for RecoverCluster: before the new snapshot is taken it
// replaces the replicated voters and client endpoints with the new configuration's
// (RecoverCluster applies only command entries, and puts the configuration in the
// snapshot's metadata, which the FSM never sees), and records every entry up to the last
// as applied (configuration and no-op entries have no effect on the state).
type recoveryFSM struct {
	*fsm
	members []Member
	last    uint64
}

// Snapshot implements raft.FSM.
func (r *recoveryFSM) Snapshot() (raft.FSMSnapshot, error) {
	r.mu.Lock()
	voters := make(map[string]string, len(r.members))
	endpoints := make(map[string]string, len(r.members))
	for _, m := range r.members {
		voters[m.ID] = m.RaftAddr
		ep := m.ClientEndpoint
		if ep == "" {
			ep = r.endpoints[m.ID]
		}
		if ep != "" {
			endpoints[m.ID] = ep
		}
	}
	r.voters, r.endpoints = voters, endpoints
	r.applied = max(r.applied, r.last)
	r.mu.Unlock()
	s, err := r.fsm.Snapshot()
	if err != nil {
		return nil, err
	}
	return releaseAfterPersist{s}, nil
}

// releaseAfterPersist releases the state machine's snapshot once it is written:
// raft.RecoverCluster persists the snapshot but never calls Release.
type releaseAfterPersist struct{ raft.FSMSnapshot }

// Persist implements raft.FSMSnapshot.
func (s releaseAfterPersist) Persist(sink raft.SnapshotSink) error {
	defer s.Release()
	return s.FSMSnapshot.Persist(sink)
}
