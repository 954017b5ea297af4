package raftnode

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/hashicorp/raft"
)

// Node is one cluster member: hashicorp/raft with its TCP transport, the node's stores,
// batched proposals, leadership events and read paths. Create it with New; stop it with
// Shutdown (graceful) or Close (abrupt).
type Node struct {
	cfg      Config
	log      *slog.Logger
	raft     *raft.Raft
	fsm      *fsm
	trans    *raft.NetworkTransport
	stores   Stores
	logStore *countingLogStore
	addr     string // advertised raft address

	stop      chan struct{}
	closeOnce sync.Once
	closeErr  error
	loops     sync.WaitGroup // proposer, leadership, observer, reader

	proposals
	leadership
	events
	reads
}

// New opens the member's stores, starts its transport and raft, and returns the running
// node. A new member has no configuration until Bootstrap is called on it or a leader
// adds it (AddMember); a restarted one resumes from its data dir.
func New(cfg Config, sm StateMachine) (*Node, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if sm == nil {
		return nil, fmt.Errorf("%w: nil StateMachine", ErrInvalidConfig)
	}
	log := cfg.Logger.With("member", cfg.MemberID)
	stores, err := cfg.Stores(cfg.DataDir)
	if err != nil {
		return nil, fmt.Errorf("raftnode: open stores: %w", err)
	}
	n := &Node{cfg: cfg, log: log, stores: stores, stop: make(chan struct{})}
	ok := false
	defer func() {
		if !ok {
			n.closeStores()
		}
	}()
	layer, err := listenStreamLayer(cfg.BindAddr, cfg.AdvertiseAddr)
	if err != nil {
		return nil, err
	}
	n.addr = layer.Addr().String()
	var stream raft.StreamLayer = layer
	if cfg.WrapStreamLayer != nil {
		stream = cfg.WrapStreamLayer(layer)
	}
	n.trans = raft.NewNetworkTransportWithConfig(&raft.NetworkTransportConfig{
		Stream:  stream,
		MaxPool: 4,
		Timeout: 10 * time.Second,
		Logger:  newHclogAdapter(log.With("component", "raft-net"), cfg.RaftLogLevel.Level()),
	})
	n.fsm = newFSM(sm, log)
	n.logStore = &countingLogStore{LogStore: stores.Log}
	n.initEvents()
	n.initLeadership()
	n.initProposals() // after newFSM: it sets the FSM's result hook
	n.initReads()
	n.fsm.onMembers = n.kickMembers
	if err := raiseTermToSnapshot(stores, log); err != nil {
		_ = n.trans.Close()
		return nil, err
	}
	n.raft, err = raft.NewRaft(cfg.raftConfig(log), n.fsm, n.logStore, stores.Stable, stores.Snapshots, n.trans)
	if err != nil {
		_ = n.trans.Close()
		return nil, fmt.Errorf("raftnode: start raft: %w", err)
	}
	ok = true
	n.startObserver()
	n.loops.Add(3)
	go n.leadershipLoop()
	go n.proposerLoop()
	go n.readLoop()
	log.Debug("raftnode: started", "raft_addr", n.addr)
	return n, nil
}

// ID returns the member id.
func (n *Node) ID() string { return n.cfg.MemberID }

// RaftAddr returns the advertised Raft address (useful with BindAddr port 0).
func (n *Node) RaftAddr() string { return n.addr }

// Self returns this member's description.
func (n *Node) Self() Member {
	return Member{ID: n.cfg.MemberID, RaftAddr: n.addr, ClientEndpoint: n.cfg.ClientEndpoint}
}

// Bootstrap makes a new cluster whose voters are members (this member must be one of
// them; with none, this member alone). Every founding member may call it with the same
// list. It returns ErrAlreadyBootstrapped if the data dir already holds Raft state.
func (n *Node) Bootstrap(ctx context.Context, members ...Member) error {
	if len(members) == 0 {
		members = []Member{n.Self()}
	}
	var servers []raft.Server
	self := false
	for _, m := range members {
		if m.ID == n.cfg.MemberID {
			self = true
			if m.RaftAddr == "" {
				m.RaftAddr = n.addr
			}
		}
		servers = append(servers, raft.Server{Suffrage: raft.Voter, ID: raft.ServerID(m.ID), Address: raft.ServerAddress(m.RaftAddr)})
	}
	if !self {
		return fmt.Errorf("%w: bootstrap members do not include %q", ErrInvalidConfig, n.cfg.MemberID)
	}
	n.lmu.Lock()
	n.bootstrapMembers = append([]Member(nil), members...)
	n.lmu.Unlock()
	err := n.await(ctx, n.raft.BootstrapCluster(raft.Configuration{Servers: servers}))
	if errors.Is(err, raft.ErrCantBootstrap) {
		return fmt.Errorf("%w: %v", ErrAlreadyBootstrapped, err)
	}
	return err
}

// Shutdown stops the member gracefully: a leader first hands leadership to another voter
// (bounded by ctx), then the node closes. The node is closed even if the transfer fails.
func (n *Node) Shutdown(ctx context.Context) error {
	var terr error
	if n.IsLeader() && n.otherVoters() > 0 {
		if terr = n.TransferLeadership(ctx, ""); terr != nil {
			n.log.Warn("raftnode: leadership transfer before shutdown failed", "err", terr)
		}
	}
	return errors.Join(terr, n.Close())
}

// Close stops the member at once, without handing over leadership (as a crash would,
// except that stores are closed cleanly). Pending proposals and reads fail with
// ErrShutdown. Safe to call more than once.
func (n *Node) Close() error {
	n.closeOnce.Do(func() {
		close(n.stop)
		err := n.raft.Shutdown().Error()
		n.stopObserver()
		n.loops.Wait()
		n.failWaiting(0, ErrShutdown)
		err = errors.Join(err, n.trans.Close())
		n.publish() // subscribers learn about the shutdown
		n.closeSubscriptions()
		err = errors.Join(err, n.closeStores())
		n.closeErr = err
	})
	return n.closeErr
}

func (n *Node) closeStores() error {
	if n.stores.Close == nil {
		return nil
	}
	return n.stores.Close()
}

func (n *Node) closed() bool {
	select {
	case <-n.stop:
		return true
	default:
		return false
	}
}

// await waits for a raft future, honouring ctx. It is used for configuration changes,
// bootstrap and leadership transfer, whose futures raft completes when it shuts down,
// with one exception it shares with Apply: a configuration entry committed but still
// queued for the FSM goroutine at the instant raft shuts down is never answered, and
// the goroutine waiting on it stays blocked (proposals avoid this; see propose.go).
func (n *Node) await(ctx context.Context, f raft.Future) error {
	done := make(chan error, 1)
	go func() { done <- f.Error() }()
	select {
	case err := <-done:
		return n.mapErr(err)
	case <-ctx.Done():
		return ctx.Err()
	}
}

// mapErr turns raft's errors into the package's.
func (n *Node) mapErr(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, raft.ErrRaftShutdown):
		return fmt.Errorf("%w: %v", ErrShutdown, err)
	case errors.Is(err, raft.ErrLeadershipLost):
		return fmt.Errorf("%w: %v", ErrLeadershipLost, err)
	case errors.Is(err, raft.ErrNotLeader), errors.Is(err, raft.ErrLeadershipTransferInProgress), errors.Is(err, raft.ErrNotVoter):
		return n.notLeader()
	case errors.Is(err, raft.ErrEnqueueTimeout):
		return fmt.Errorf("%w: %v", ErrTimeout, err)
	}
	return err
}

// notLeader builds the NotLeaderError with the current leader hint.
func (n *Node) notLeader() error {
	id, ep := n.Leader()
	if id == n.cfg.MemberID { // raft still says us, but we are not a ready leader
		id, ep = "", ""
	}
	return &NotLeaderError{LeaderID: id, LeaderEndpoint: ep}
}

// Leader returns the current leader's id and client endpoint as this member knows them
// (empty when unknown).
func (n *Node) Leader() (id, clientEndpoint string) {
	_, lid := n.raft.LeaderWithID()
	if lid == "" {
		return "", ""
	}
	return string(lid), n.fsm.endpoint(string(lid))
}
