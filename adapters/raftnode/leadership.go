package raftnode

import (
	"sync"
	"time"

	"github.com/hashicorp/raft"
)

// leadership tracks whether this member is a *ready* leader: raft made it leader in
// term T and the term's first entries (member endpoints, then LeaderStartedCommand) are
// applied. Applying them is the "barrier after each election": everything committed by
// earlier leaders is applied too, so reads and proposals may start.
type leadership struct {
	lmu              sync.Mutex
	readyTerm        uint64        // term in which we are the ready leader; 0 if not
	leaseUntil       time.Time     // lease reads allowed before this instant (readyTerm only)
	leadChanged      chan struct{} // closed and replaced when readyTerm changes
	bootstrapMembers []Member
}

func (n *Node) initLeadership() {
	n.leadChanged = make(chan struct{})
	n.bootstrapMembers = append([]Member(nil), n.cfg.BootstrapMembers...)
}

func (n *Node) setReadyTerm(term uint64) {
	n.lmu.Lock()
	if n.readyTerm != term {
		n.readyTerm = term
		n.leaseUntil = time.Time{}
		close(n.leadChanged)
		n.leadChanged = make(chan struct{})
	}
	n.lmu.Unlock()
}

// leaderTerm returns the term in which this member is the ready leader (0 if it is not)
// and a channel closed when that changes.
func (n *Node) leaderTerm() (uint64, <-chan struct{}) {
	n.lmu.Lock()
	defer n.lmu.Unlock()
	term := n.readyTerm
	if term != 0 && (n.raft.State() != raft.Leader || n.raft.CurrentTerm() != term) {
		term = 0
	}
	return term, n.leadChanged
}

// IsLeader reports whether this member is the ready leader right now (a hint: it may be
// deposed the next moment; use Read for linearizable decisions).
func (n *Node) IsLeader() bool {
	t, _ := n.leaderTerm()
	return t != 0
}

func (n *Node) dropLease() {
	n.lmu.Lock()
	n.leaseUntil = time.Time{}
	n.lmu.Unlock()
}

func (n *Node) leadershipLoop() {
	defer n.loops.Done()
	for {
		select {
		case <-n.stop:
			return
		case isLeader := <-n.raft.LeaderCh():
			if isLeader {
				n.establish()
			} else {
				n.setReadyTerm(0)
				n.failWaiting(0, ErrLeadershipLost)
			}
			n.publish()
		}
	}
}

// establish runs when raft made us leader: publish our client endpoint (and those of the
// bootstrap members), then the caller's leader-started command, each applied before the
// next; only then are we a ready leader. raft's LeaderCh keeps only the latest value, so
// a loss during establish is seen on the next loop iteration.
func (n *Node) establish() {
	term := n.raft.CurrentTerm()
	n.log.Info("raftnode: won election, establishing leadership", "term", term)
	// Proposals of an earlier term of ours (a loss LeaderCh coalesced away) are lost.
	n.failWaiting(0, ErrLeadershipLost)
	endpoints, _ := n.fsm.memberView()
	entry := membersEntry{endpoints: []Member{{ID: n.cfg.MemberID, ClientEndpoint: n.cfg.ClientEndpoint}}}
	n.lmu.Lock()
	for _, m := range n.bootstrapMembers {
		if _, known := endpoints[m.ID]; !known && m.ID != n.cfg.MemberID {
			entry.endpoints = append(entry.endpoints, Member{ID: m.ID, ClientEndpoint: m.ClientEndpoint})
		}
	}
	n.lmu.Unlock()
	cmds := [][]byte{encodeMembers(entry)}
	if n.cfg.LeaderStartedCommand != nil {
		cmds = append(cmds, encodeCommand(n.cfg.LeaderStartedCommand(term)))
	}
	for _, data := range cmds {
		res, err := n.applyInTerm(term, data)
		if err != nil {
			n.log.Warn("raftnode: could not establish leadership", "term", term, "err", err)
			return
		}
		if e, ok := res.(entryError); ok {
			n.log.Error("raftnode: leader-started entry failed", "term", term, "err", e.err)
		}
	}
	if n.raft.CurrentTerm() != term || n.raft.State() != raft.Leader {
		return
	}
	n.setReadyTerm(term)
	n.log.Info("raftnode: leading", "term", term)
}

// otherVoters counts the voters in the latest configuration other than this member.
func (n *Node) otherVoters() int {
	f := n.raft.GetConfiguration()
	if f.Error() != nil {
		return 0
	}
	c := 0
	for _, s := range f.Configuration().Servers {
		if s.Suffrage == raft.Voter && string(s.ID) != n.cfg.MemberID {
			c++
		}
	}
	return c
}

// applyInTerm proposes entry while raft makes us leader of term but before we are a
// ready leader, and waits for it to be applied here. It gives up when raft's leadership
// moves on: nobody else fails this waiter, as the leadership loop is the caller.
func (n *Node) applyInTerm(term uint64, entry []byte) (any, error) {
	tag, w := n.registerTerm(term)
	defer n.unregister(tag.seq)
	n.raft.ApplyLog(raft.Log{Data: encodeTagged(tag, entry)}, n.cfg.ApplyTimeout)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case r := <-w.ch:
			return r.value, r.err
		case <-n.stop:
			return nil, ErrShutdown
		case <-tick.C:
			if n.raft.State() != raft.Leader || n.raft.CurrentTerm() != term {
				return nil, ErrLeadershipLost
			}
		}
	}
}
