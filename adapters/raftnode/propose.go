package raftnode

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"sync"
	"time"

	"github.com/hashicorp/raft"
)

// Proposals flow: Propose registers a waiter and queues the tagged entry -> the proposer
// goroutine hands bursts of up to ProposalBatch entries to raft.ApplyLog (raft's apply
// channel is buffered, so its leader loop finds them together and writes them with one
// StoreLogs, i.e. one fsync, and one AppendEntries per follower) -> the FSM applies the
// entry and hands its result to the waiter by tag. Proposals whose entries may never
// commit are failed when this member loses its leadership (ErrLeadershipLost) or closes.
type proposals struct {
	queue chan []byte

	pmu     sync.Mutex
	nonce   uint64
	seq     uint64
	waiting map[uint64]waiter
}

type waiter struct {
	term uint64
	ch   chan proposeResult // cap 1: delivery never blocks
}

type proposeResult struct {
	value any
	err   error
}

func (n *Node) initProposals() {
	n.queue = make(chan []byte, n.cfg.ProposalQueue)
	n.waiting = map[uint64]waiter{}
	var b [8]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24+)
	n.nonce = binary.BigEndian.Uint64(b[:])
	n.fsm.onResult = n.deliver
}

// Propose replicates cmd through the log and returns the state machine's result for it
// (what StateMachine.Apply returned) once it is applied on this member. Only the ready
// leader accepts proposals: others return a *NotLeaderError (errors.Is ErrNotLeader)
// with the leader hint; a leader still establishing its term makes Propose wait.
//
// Errors: ErrNotLeader (not appended), ErrLeadershipLost (outcome unknown), ErrShutdown
// (outcome unknown if it happened while waiting), or ctx's error — after which the
// command may still be applied (outcome unknown), as with any lost reply.
//
// Concurrent Propose calls reach the log in no particular order; a caller that needs its
// commands in the log in call order uses ProposeAsync from one goroutine.
func (n *Node) Propose(ctx context.Context, cmd []byte) (any, error) {
	p, err := n.ProposeAsync(ctx, cmd)
	if err != nil {
		return nil, err
	}
	return p.Wait(ctx)
}

// Proposal is a command handed to the log by ProposeAsync; Wait returns its result.
type Proposal struct {
	n   *Node
	tag proposalTag
	w   waiter
}

// ProposeAsync queues cmd for the log and returns once it is queued, without waiting for
// the commit: commands queued by successive calls from one goroutine enter the log in
// that order. Wait on the returned Proposal for the result (exactly once). Errors are
// Propose's, before anything was queued (except ctx's error or ErrShutdown while the
// queue is full, after which nothing was queued either).
func (n *Node) ProposeAsync(ctx context.Context, cmd []byte) (*Proposal, error) {
	return n.enqueue(ctx, encodeCommand(cmd))
}

// Wait returns the proposal's result, as Propose does. After ctx ends the result is
// lost to the caller (the command may still apply); call Wait once.
func (p *Proposal) Wait(ctx context.Context) (any, error) {
	defer p.n.unregister(p.tag.seq)
	select {
	case r := <-p.w.ch:
		return r.value, r.err
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-p.n.stop:
		return nil, ErrShutdown
	}
}

// propose replicates an untagged entry and waits for its result on this member.
func (n *Node) propose(ctx context.Context, entry []byte) (any, error) {
	p, err := n.enqueue(ctx, entry)
	if err != nil {
		return nil, err
	}
	return p.Wait(ctx)
}

// enqueue registers a waiter for entry and queues it for the proposer loop.
func (n *Node) enqueue(ctx context.Context, entry []byte) (*Proposal, error) {
	if err := n.awaitReadyLeader(ctx); err != nil {
		return nil, err
	}
	tag, w, err := n.register()
	if err != nil {
		return nil, err
	}
	select {
	case n.queue <- encodeTagged(tag, entry):
		return &Proposal{n: n, tag: tag, w: w}, nil
	case <-ctx.Done():
		n.unregister(tag.seq)
		return nil, ctx.Err()
	case <-n.stop:
		n.unregister(tag.seq)
		return nil, ErrShutdown
	}
}

// register adds a waiter for the current leader term. A waiter registered in a term
// that has already ended would never be failed by failWaiting, hence the re-check.
func (n *Node) register() (proposalTag, waiter, error) {
	term, _ := n.leaderTerm()
	tag, w := n.registerTerm(term)
	if now, _ := n.leaderTerm(); term == 0 || now != term {
		n.unregister(tag.seq)
		return tag, w, n.notLeader()
	}
	return tag, w, nil
}

func (n *Node) registerTerm(term uint64) (proposalTag, waiter) {
	n.pmu.Lock()
	n.seq++
	tag := proposalTag{nonce: n.nonce, seq: n.seq}
	w := waiter{term: term, ch: make(chan proposeResult, 1)}
	n.waiting[tag.seq] = w
	n.pmu.Unlock()
	return tag, w
}

func (n *Node) unregister(seq uint64) {
	n.pmu.Lock()
	delete(n.waiting, seq)
	n.pmu.Unlock()
}

// deliver is the FSM's onResult: hand an applied entry's result to its waiter, if this
// member proposed it and the proposer still waits.
func (n *Node) deliver(tag proposalTag, result any) {
	if tag.nonce != n.nonce {
		return
	}
	n.pmu.Lock()
	w, ok := n.waiting[tag.seq]
	delete(n.waiting, tag.seq)
	n.pmu.Unlock()
	if !ok {
		return
	}
	if e, isErr := result.(entryError); isErr {
		w.ch <- proposeResult{err: e.err}
		return
	}
	w.ch <- proposeResult{value: result}
}

// failWaiting fails every proposal made in a term other than keep (0: all) with err:
// their entries may or may not commit later, under another leader.
func (n *Node) failWaiting(keep uint64, err error) {
	n.pmu.Lock()
	defer n.pmu.Unlock()
	for seq, w := range n.waiting {
		if keep == 0 || w.term != keep {
			delete(n.waiting, seq)
			w.ch <- proposeResult{err: err}
		}
	}
}

// awaitReadyLeader returns nil once this member is the ready leader, or a
// *NotLeaderError when raft does not consider it leader.
func (n *Node) awaitReadyLeader(ctx context.Context) error {
	for {
		if n.closed() {
			return ErrShutdown
		}
		term, changed := n.leaderTerm()
		if term != 0 {
			return nil
		}
		if n.raft.State() != raft.Leader {
			return n.notLeader()
		}
		select {
		case <-changed:
		case <-time.After(50 * time.Millisecond): // raft may step down without a term change
		case <-ctx.Done():
			return ctx.Err()
		case <-n.stop:
			return ErrShutdown
		}
	}
}

func (n *Node) proposerLoop() {
	defer n.loops.Done()
	for {
		var data []byte
		select {
		case data = <-n.queue:
		case <-n.stop:
			return
		}
		// Hand raft everything queued so far (up to the batch size) back to back. The
		// futures are not needed: results come back through the FSM by tag, and a
		// rejected entry (we lost leadership) is failed by the leadership loop.
		for i := 0; data != nil; i++ {
			n.raft.ApplyLog(raft.Log{Data: data}, n.cfg.ApplyTimeout)
			data = nil
			if i+1 < n.cfg.ProposalBatch {
				select {
				case data = <-n.queue:
				default:
				}
			}
		}
	}
}
