package raftnode

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// ReadLevel chooses a read path's guarantee and cost.
type ReadLevel uint8

// Read levels (see docs/cluster.md).
const (
	// Linearizable: after the read arrived, a quorum confirms this member still leads,
	// and the state machine has applied everything committed at that point. Concurrent
	// reads share one confirmation round.
	Linearizable ReadLevel = iota
	// Lease: served by the leader without a quorum round while its read lease (renewed by
	// every confirmation round, ReadLeaseTimeout long) holds; linearizable under bounded
	// clock drift. Falls back to a confirmation round when the lease has run out.
	Lease
	// Stale: this member's state as it is, on any member; may lag arbitrarily.
	Stale
)

type readRound struct {
	done chan struct{}
	err  error
}

type reads struct {
	rounds   atomic.Uint64 // confirmation rounds run
	rmu      sync.Mutex
	next     *readRound    // the round that reads arriving now will share
	readKick chan struct{} // cap 1: a round is waiting
}

func (n *Node) initReads() { n.readKick = make(chan struct{}, 1) }

// Read runs fn against the state machine at the given level. fn runs under the apply
// lock (no command is applied while it runs), so it sees one consistent state; it must
// not call back into the node and should be quick. Not being the leader (for
// Linearizable and Lease) returns a *NotLeaderError.
func (n *Node) Read(ctx context.Context, level ReadLevel, fn func()) error {
	if err := n.ReadBarrier(ctx, level); err != nil {
		return err
	}
	n.fsm.mu.Lock()
	defer n.fsm.mu.Unlock()
	fn()
	return nil
}

// ReadBarrier returns once this member's state machine may serve a read of the given
// level that arrived before the call. Read is ReadBarrier plus running fn under the
// apply lock.
func (n *Node) ReadBarrier(ctx context.Context, level ReadLevel) error {
	if n.closed() {
		return ErrShutdown
	}
	switch level {
	case Stale:
		return nil
	case Lease:
		n.lmu.Lock()
		valid := n.readyTerm != 0 && time.Now().Before(n.leaseUntil)
		term := n.readyTerm
		n.lmu.Unlock()
		if valid {
			if t, _ := n.leaderTerm(); t == term {
				return n.waitApplied(ctx, n.raft.CommitIndex())
			}
		}
	}
	if t, _ := n.leaderTerm(); t == 0 {
		return n.notLeader()
	}
	n.rmu.Lock()
	if n.next == nil {
		n.next = &readRound{done: make(chan struct{})}
	}
	r := n.next
	n.rmu.Unlock()
	select {
	case n.readKick <- struct{}{}:
	default:
	}
	select {
	case <-r.done:
		return r.err
	case <-ctx.Done():
		return ctx.Err()
	case <-n.stop:
		return ErrShutdown
	}
}

// readLoop runs confirmation rounds one after another. A read that arrives while a round
// is in flight joins the next one: the in-flight round may have read the commit index
// before the read arrived.
func (n *Node) readLoop() {
	defer n.loops.Done()
	for {
		select {
		case <-n.stop:
			n.failRound()
			return
		case <-n.readKick:
		}
		n.rmu.Lock()
		r := n.next
		n.next = nil
		n.rmu.Unlock()
		if r != nil {
			n.rounds.Add(1)
			r.err = n.confirm()
			close(r.done)
		}
	}
}

func (n *Node) failRound() {
	n.rmu.Lock()
	defer n.rmu.Unlock()
	if n.next != nil {
		n.next.err = ErrShutdown
		close(n.next.done)
		n.next = nil
	}
}

// confirm is one ReadIndex round built from what hashicorp/raft offers: note the commit
// index, confirm leadership with a quorum (VerifyLeader), renew the lease from the
// round's start, then wait until the state machine applied the noted index. Being a
// ready leader means this term's first entries are applied, so the noted commit index
// covers every entry committed by earlier leaders.
func (n *Node) confirm() error {
	term, _ := n.leaderTerm()
	if term == 0 {
		return n.notLeader()
	}
	start := time.Now()
	commit := n.raft.CommitIndex()
	if err := n.raft.VerifyLeader().Error(); err != nil {
		return n.mapErr(err)
	}
	n.lmu.Lock()
	ok := n.readyTerm == term
	if ok {
		n.leaseUntil = start.Add(n.cfg.ReadLeaseTimeout)
	}
	n.lmu.Unlock()
	if !ok {
		return n.notLeader()
	}
	return n.waitApplied(context.Background(), commit)
}

// waitApplied waits until the state machine has applied index.
func (n *Node) waitApplied(ctx context.Context, index uint64) error {
	for {
		applied, changed := n.fsm.appliedIndex()
		if applied >= index {
			return nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return ctx.Err()
		case <-n.stop:
			return ErrShutdown
		}
	}
}
