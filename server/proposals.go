package server

import (
	"sync"

	"github.com/zraft/zraft/domain/gateway"
	"github.com/zraft/zraft/domain/session"
)

// proposal is one command the gateway asked to replicate, encoded for the log.
type proposal struct {
	data     []byte
	cmd      session.Command // nil for an internal (housekeeping) command
	internal bool
}

// proposalQueue keeps the loop's proposals in the order the gateway made them. One
// dispatcher goroutine at a time hands them to consensus with ProposeAsync, which queues
// each for the log in call order, so a session's pipelined commands apply in the order
// the client sent them; waiting for each result happens in a goroutine of its own, so the
// loop never waits on a commit. The queue is unbounded on purpose: every entry is a
// command the gateway already accepted (bounded per session by its in-flight limit), and
// dropping one would leave its client waiting.
type proposalQueue struct {
	mu      sync.Mutex
	items   []proposal
	running bool
}

// enqueueProposal queues p and starts the dispatcher if it is not running.
func (l *loop) enqueueProposal(p proposal) {
	q := &l.proposals
	q.mu.Lock()
	q.items = append(q.items, p)
	start := !q.running
	q.running = true
	q.mu.Unlock()
	if start {
		l.work.Add(1)
		go l.dispatchProposals()
	}
}

// dispatchProposals hands queued proposals to consensus in order until the queue is empty.
func (l *loop) dispatchProposals() {
	defer l.work.Done()
	q := &l.proposals
	for {
		q.mu.Lock()
		if len(q.items) == 0 {
			q.running = false
			q.items = nil // let a burst's backing array go
			q.mu.Unlock()
			return
		}
		p := q.items[0]
		q.items[0] = proposal{}
		q.items = q.items[1:]
		q.mu.Unlock()

		pending, err := l.node.ProposeAsync(l.workCtx, p.data)
		if err != nil {
			l.proposalDone(p, nil, err)
			continue
		}
		l.work.Add(1)
		go func() {
			defer l.work.Done()
			res, err := pending.Wait(l.workCtx)
			l.proposalDone(p, res, err)
		}()
	}
}

// proposalDone reports a proposal that failed back to the gateway (which retries what
// still waits for an answer); success comes back through the applied entries instead.
func (l *loop) proposalDone(p proposal, res any, err error) {
	if err == nil {
		err, _ = res.(error) // the entry committed but did not apply
	}
	if err == nil {
		return
	}
	if p.internal {
		l.log.Debug("server: internal command", "err", err)
		return
	}
	l.in.push(gateway.ProposalFailed{Command: p.cmd})
}
