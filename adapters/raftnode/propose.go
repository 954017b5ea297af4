package raftnode

import (
	"context"

	"github.com/hashicorp/raft"
)

// Proposals flow: Propose -> queue -> proposer goroutine (hands bursts of up to
// ProposalBatch entries to raft.ApplyLog; raft's leader loop groups what is queued into
// one StoreLogs, i.e. one fsync, and one AppendEntries per follower) -> pending futures
// -> waiter goroutine (waits on them in log order and hands each result back).
type proposals struct {
	queue   chan *proposal
	pending chan pendingProposal
}

type proposal struct {
	data []byte
	done chan proposeResult // cap 1: the waiter never blocks
}

type proposeResult struct {
	value any
	err   error
}

type pendingProposal struct {
	f raft.ApplyFuture
	p *proposal
}

func (n *Node) initProposals() {
	n.queue = make(chan *proposal, n.cfg.ProposalQueue)
	n.pending = make(chan pendingProposal, n.cfg.ProposalQueue)
}

// Propose replicates cmd through the log and returns the state machine's result for it
// (what StateMachine.Apply returned) once it is applied on this member. Only the ready
// leader accepts proposals: others return a *NotLeaderError (errors.Is ErrNotLeader)
// with the leader hint; a leader still establishing its term makes Propose wait.
//
// Errors: ErrNotLeader (not appended), ErrLeadershipLost (outcome unknown), ErrShutdown,
// ErrTimeout, or ctx's error — after which the command may still be applied (outcome
// unknown), as with any lost reply.
func (n *Node) Propose(ctx context.Context, cmd []byte) (any, error) {
	if err := n.awaitReadyLeader(ctx); err != nil {
		return nil, err
	}
	p := &proposal{data: encodeCommand(cmd), done: make(chan proposeResult, 1)}
	select {
	case n.queue <- p:
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-n.stop:
		return nil, ErrShutdown
	}
	select {
	case r := <-p.done:
		return r.value, r.err
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-n.stop:
		// The waiter keeps delivering until raft has failed every future; don't wait
		// for it, the caller only needs to know the node is going away.
		return nil, ErrShutdown
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
		var p *proposal
		select {
		case p = <-n.queue:
		case <-n.stop:
			n.failQueued()
			return
		}
		// Hand raft everything queued so far (up to the batch size) back to back, so
		// that its leader loop finds them together and writes them with one StoreLogs.
		for i := 0; p != nil; i++ {
			n.pending <- pendingProposal{f: n.raft.ApplyLog(raft.Log{Data: p.data}, n.cfg.ApplyTimeout), p: p}
			p = nil
			if i+1 < n.cfg.ProposalBatch {
				select {
				case p = <-n.queue:
				default:
				}
			}
		}
	}
}

// failQueued answers proposals that never reached raft.
func (n *Node) failQueued() {
	for {
		select {
		case p := <-n.queue:
			p.done <- proposeResult{err: ErrShutdown}
		default:
			return
		}
	}
}

// waiterLoop waits for futures in the order they were handed to raft (which completes
// them in log order) and delivers each proposal's own result.
func (n *Node) waiterLoop() {
	defer n.waiter.Done()
	for pp := range n.pending {
		if err := pp.f.Error(); err != nil {
			pp.p.done <- proposeResult{err: n.mapErr(err)}
			continue
		}
		res := pp.f.Response()
		if e, ok := res.(entryError); ok {
			pp.p.done <- proposeResult{err: e.err}
			continue
		}
		pp.p.done <- proposeResult{value: res}
	}
}
