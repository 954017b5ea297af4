package server

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"strings"
	"syscall"

	"github.com/zraft/zraft/adapters/raftnode"
	"github.com/zraft/zraft/domain/session"
	"github.com/zraft/zraft/server/kv"
)

// ErrNoState: Recover found no Raft state (no log, no term, no snapshot) in the data dir,
// which is almost always a wrong path.
var ErrNoState = errors.New("server: no raft state in the data dir")

// Recover rewrites the Raft configuration of a stopped member's data dir (cfg.DataDir)
// so that the member, started again with New and the same cfg, belongs to a cluster
// whose voters are exactly members: raftnode.RecoverCluster with the state machine New
// would build. Use it to restore a copy of one member's data dir onto members with other
// ids or Raft addresses, or onto fewer members, or to bring up the survivors of a
// cluster that lost its quorum for good. Every member of the new cluster must start from
// a data dir recovered with the same members (normally copies of one data dir, each
// recovered with its own cfg.MemberID, which must be one of members).
//
// The newest snapshot is restored and every log entry after it is replayed (entries the
// member had received but not seen committed included) into a session state machine
// configured from cfg (session timeout, leader grace, per-session bounds: give it the
// values the cluster ran with) and the application of WithApplication (default the
// key-value example); the result becomes a new snapshot carrying the new configuration,
// and the log is emptied. The client endpoints the cluster names to clients become those
// of members (an empty ClientEndpoint keeps the one the state knew for that id).
//
// Of the options, WithApplication, WithLogger and WithRaftConfig are used (the last with
// the data dir's stores and snapshot settings; BindAddr and timeouts do not matter); the
// others are ignored. The member must not be running (the stores are opened
// exclusively). Recover does not create the data dir, and keeps its permissions. A data
// dir without Raft state returns ErrNoState; a bad cfg or members list, ErrInvalidConfig.
// Nothing is listened on and nothing is sent: the work is the replay and one snapshot
// write, bounded by the data dir's size, and it cannot be cancelled half-way.
func Recover(cfg Config, members []Member, opts ...Option) error {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return err
	}
	if err := checkRecoveryMembers(cfg.MemberID, members); err != nil {
		return err
	}
	o := options{logger: slog.Default()}
	for _, opt := range opts {
		opt(&o)
	}
	if o.app == nil {
		o.app = kv.New()
	}
	info, err := os.Stat(cfg.DataDir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("%w: %q does not exist", ErrNoState, cfg.DataDir)
	case err != nil:
		return fmt.Errorf("server: data dir: %w", err)
	case !info.IsDir():
		return fmt.Errorf("%w: data dir %q is not a directory", ErrInvalidConfig, cfg.DataDir)
	}
	log := o.logger.With("member", cfg.MemberID)
	// The loop that would take the applied entries never runs: a closed inbox discards
	// them, where an open one would block Apply once appliedBacklog entries waited.
	in := newInbox(1)
	in.close()
	sm := &stateMachine{log: log, out: in, m: session.New(cfg.sessionConfig(), o.app)}
	rc := raftnode.Config{
		MemberID:          cfg.MemberID,
		BindAddr:          cfg.RaftAddr,
		DataDir:           cfg.DataDir,
		SnapshotThreshold: cfg.SnapshotThreshold,
		SnapshotInterval:  cfg.SnapshotInterval,
		Logger:            o.logger,
	}
	if o.raft != nil {
		o.raft(&rc)
	}
	if rc.Stores == nil {
		rc.Stores = pebbleStores(max(rc.SnapshotRetain, 2), log.With("component", "storage"))
	}
	rms := make([]raftnode.Member, 0, len(members))
	for _, m := range members {
		rms = append(rms, raftnode.Member(m))
	}
	err = raftnode.RecoverCluster(rc, sm, rms)
	switch {
	case errors.Is(err, raftnode.ErrNoState):
		return fmt.Errorf("%w: %q holds no Raft log, term or snapshot", ErrNoState, cfg.DataDir)
	case errors.Is(err, raftnode.ErrInvalidConfig):
		return fmt.Errorf("%w: %w", ErrInvalidConfig, err)
	case errors.Is(err, syscall.EWOULDBLOCK):
		return fmt.Errorf("server: recover: the data dir is locked: is a member still running on it? (%w)", err)
	case err != nil:
		return fmt.Errorf("server: recover: %w", err)
	}
	return nil
}

// checkRecoveryMembers checks a recovery's member list the way Config.Validate checks a
// bootstrap list, and more strictly: every member needs a Raft address other members
// can dial, and this member must be one of them.
func checkRecoveryMembers(self string, members []Member) error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrInvalidConfig, fmt.Sprintf(format, args...))
	}
	if len(members) == 0 {
		return bad("recovering needs at least one member")
	}
	seenID, seenAddr, found := map[string]bool{}, map[string]bool{}, false
	for _, m := range members {
		switch {
		case m.ID == "" || strings.ContainsAny(m.ID, "=|, \t\n"):
			return bad("member id %q must be non-empty without '=', '|', ',' or spaces", m.ID)
		case seenID[m.ID]:
			return bad("member %q listed twice", m.ID)
		case seenAddr[m.RaftAddr]:
			return bad("raft address %q listed twice", m.RaftAddr)
		}
		if m.ClientEndpoint != "" {
			if err := checkEndpoint(m.ClientEndpoint); err != nil {
				return bad("member %q client endpoint %q: %v", m.ID, m.ClientEndpoint, err)
			}
		}
		seenID[m.ID], seenAddr[m.RaftAddr] = true, true
		found = found || m.ID == self
	}
	if !found {
		return bad("members do not include this member %q", self)
	}
	return nil
}
