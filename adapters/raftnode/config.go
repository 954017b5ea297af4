package raftnode

import (
	"fmt"
	"log/slog"
	"net"
	"time"

	"github.com/hashicorp/raft"
)

// Config configures one member. Zero fields take the defaults documented on each field
// (WithDefaults fills them); Validate checks the result.
type Config struct {
	// MemberID is this member's stable id (required).
	MemberID string
	// BindAddr is the host:port the Raft transport listens on (required; port 0 picks one).
	BindAddr string
	// AdvertiseAddr is the host:port other members dial; default: the bound address,
	// which must then not be an unspecified IP (0.0.0.0 / ::).
	AdvertiseAddr string
	// ClientEndpoint is where clients reach this member; replicated so that every member
	// can name the leader's endpoint to clients. Optional.
	ClientEndpoint string
	// DataDir holds the member's durable state (required unless Stores is set and does
	// not need it): <DataDir>/raft (log and stable store), <DataDir>/snapshots.
	DataDir string
	// Stores opens the log, stable and snapshot stores. Default: PebbleStores (Pebble
	// and raft.FileSnapshotStore under DataDir).
	Stores StoreFactory

	// HeartbeatTimeout is how long a follower waits without contact before it starts an
	// election (raft randomises it up to 2x). Default 1s.
	HeartbeatTimeout time.Duration
	// ElectionTimeout is how long a candidate waits for votes. Default 1s.
	ElectionTimeout time.Duration
	// LeaderLeaseTimeout: a leader that has not heard from a quorum for this long steps
	// down. Default 500ms; at most HeartbeatTimeout.
	LeaderLeaseTimeout time.Duration
	// ReadLeaseTimeout is how long after a confirmed quorum round a lease read may be
	// served without a new round. Default HeartbeatTimeout/2; must be below
	// HeartbeatTimeout (see docs/cluster.md for the guarantee).
	ReadLeaseTimeout time.Duration
	// CommitTimeout bounds how long a follower may wait before learning a new commit
	// index without new entries. Default 50ms.
	CommitTimeout time.Duration
	// ApplyTimeout bounds how long an operation waits to be accepted by raft's main loop
	// (not how long it takes to commit). Default 10s.
	ApplyTimeout time.Duration

	// SnapshotThreshold is the number of new log entries that triggers a snapshot.
	// Default 8192.
	SnapshotThreshold uint64
	// SnapshotInterval is how often the threshold is checked. Default 30s.
	SnapshotInterval time.Duration
	// TrailingLogs is how many entries stay in the log after a snapshot. Default 10240.
	TrailingLogs uint64
	// SnapshotRetain is how many snapshots are kept on disk. Default 2.
	SnapshotRetain int

	// MaxAppendEntries bounds how many entries raft writes with one StoreLogs (one fsync)
	// and sends in one AppendEntries RPC. Default 256, at most 1024.
	MaxAppendEntries int
	// ProposalBatch bounds how many queued proposals the proposer hands to raft in one
	// burst. Default 256.
	ProposalBatch int
	// ProposalQueue is the capacity of the proposal queue; Propose blocks (honouring its
	// context) when it is full. Default 4096.
	ProposalQueue int

	// LeaderStartedCommand, if set, returns the command the new leader proposes (and waits
	// to be applied) right after it won an election for term, before it serves reads or
	// accepts proposals and before subscribers learn that it leads.
	LeaderStartedCommand func(term uint64) []byte
	// BootstrapMembers' client endpoints are published by the first leader (optional;
	// Bootstrap sets it too).
	BootstrapMembers []Member

	// Logger receives the node's and raft's logs. Default slog.Default().
	Logger *slog.Logger
	// RaftLogLevel is the minimum level of raft's own logs forwarded to Logger (raft logs
	// every election at info). Default slog.LevelWarn.
	RaftLogLevel slog.Leveler
	// WrapStreamLayer, if set, wraps the TCP stream layer between members (tests use it
	// to partition members).
	WrapStreamLayer func(raft.StreamLayer) raft.StreamLayer
}

// WithDefaults returns a copy of c with every zero field set to its default.
func (c Config) WithDefaults() Config {
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	def(&c.HeartbeatTimeout, time.Second)
	def(&c.ElectionTimeout, time.Second)
	def(&c.LeaderLeaseTimeout, 500*time.Millisecond)
	def(&c.ReadLeaseTimeout, c.HeartbeatTimeout/2)
	def(&c.CommitTimeout, 50*time.Millisecond)
	def(&c.ApplyTimeout, 10*time.Second)
	def(&c.SnapshotInterval, 30*time.Second)
	if c.SnapshotThreshold == 0 {
		c.SnapshotThreshold = 8192
	}
	if c.TrailingLogs == 0 {
		c.TrailingLogs = 10240
	}
	if c.SnapshotRetain == 0 {
		c.SnapshotRetain = 2
	}
	if c.MaxAppendEntries == 0 {
		c.MaxAppendEntries = 256
	}
	if c.ProposalBatch == 0 {
		c.ProposalBatch = 256
	}
	if c.ProposalQueue == 0 {
		c.ProposalQueue = 4096
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Stores == nil {
		c.Stores = PebbleStores(c.SnapshotRetain, c.Logger)
	}
	if c.RaftLogLevel == nil {
		c.RaftLogLevel = slog.LevelWarn
	}
	return c
}

// Validate reports the first problem of a configuration that WithDefaults was applied to.
func (c Config) Validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrInvalidConfig, fmt.Sprintf(format, args...))
	}
	switch {
	case c.MemberID == "":
		return bad("MemberID is required")
	case len(c.MemberID) > 0xffff || len(c.ClientEndpoint) > 0xffff:
		return bad("MemberID and ClientEndpoint must be shorter than 64 KiB")
	case c.BindAddr == "":
		return bad("BindAddr is required")
	case c.Stores == nil:
		return bad("Stores is required")
	case c.HeartbeatTimeout < 5*time.Millisecond, c.ElectionTimeout < 5*time.Millisecond,
		c.LeaderLeaseTimeout < 5*time.Millisecond, c.CommitTimeout < time.Millisecond:
		return bad("timeouts too small (heartbeat, election, leader lease >= 5ms; commit >= 1ms)")
	case c.ElectionTimeout < c.HeartbeatTimeout:
		return bad("ElectionTimeout %v < HeartbeatTimeout %v", c.ElectionTimeout, c.HeartbeatTimeout)
	case c.LeaderLeaseTimeout > c.HeartbeatTimeout:
		return bad("LeaderLeaseTimeout %v > HeartbeatTimeout %v", c.LeaderLeaseTimeout, c.HeartbeatTimeout)
	case c.ReadLeaseTimeout <= 0 || c.ReadLeaseTimeout >= c.HeartbeatTimeout:
		return bad("ReadLeaseTimeout %v must be in (0, HeartbeatTimeout)", c.ReadLeaseTimeout)
	case c.ApplyTimeout <= 0:
		return bad("ApplyTimeout must be positive")
	case c.MaxAppendEntries < 1 || c.MaxAppendEntries > 1024:
		return bad("MaxAppendEntries %d not in [1, 1024]", c.MaxAppendEntries)
	case c.ProposalBatch < 1 || c.ProposalQueue < 1:
		return bad("ProposalBatch and ProposalQueue must be positive")
	case c.SnapshotRetain < 1:
		return bad("SnapshotRetain must be positive")
	}
	if _, _, err := net.SplitHostPort(c.BindAddr); err != nil {
		return bad("BindAddr %q: %v", c.BindAddr, err)
	}
	if c.AdvertiseAddr != "" {
		if err := checkAdvertise(c.AdvertiseAddr); err != nil {
			return bad("AdvertiseAddr %q: %v", c.AdvertiseAddr, err)
		}
	}
	return nil
}

func checkAdvertise(addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return err
	}
	if port == "0" || port == "" {
		return fmt.Errorf("needs a port")
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
		return fmt.Errorf("is an unspecified address")
	}
	return nil
}

func (c Config) raftConfig(logger *slog.Logger) *raft.Config {
	rc := raft.DefaultConfig()
	rc.LocalID = raft.ServerID(c.MemberID)
	rc.HeartbeatTimeout = c.HeartbeatTimeout
	rc.ElectionTimeout = c.ElectionTimeout
	rc.LeaderLeaseTimeout = c.LeaderLeaseTimeout
	rc.CommitTimeout = c.CommitTimeout
	rc.SnapshotThreshold = c.SnapshotThreshold
	rc.SnapshotInterval = c.SnapshotInterval
	rc.TrailingLogs = c.TrailingLogs
	rc.MaxAppendEntries = c.MaxAppendEntries
	// Buffer raft's apply channel so that a burst of proposals is grouped into one
	// StoreLogs (one fsync) by raft's leader loop.
	rc.BatchApplyCh = true
	rc.Logger = newHclogAdapter(logger.With("component", "raft"), c.RaftLogLevel.Level())
	return rc
}
