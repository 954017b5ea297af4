package raftnode

import (
	"context"
	"fmt"

	"github.com/hashicorp/raft"
)

// Membership changes go through the leader: hashicorp/raft only lets the leader change
// the configuration. A joining member starts with New (no Bootstrap) and waits; whoever
// learns of it (an operator, or the server composing members) calls AddMember on the
// leader, which adds it as a voter and then replicates its client endpoint.

// AddMember adds m as a voter (this member must be the ready leader) and publishes its
// client endpoint. Adding an existing member with a new address or endpoint updates it.
func (n *Node) AddMember(ctx context.Context, m Member) error {
	if m.ID == "" || m.RaftAddr == "" {
		return fmt.Errorf("%w: member needs an ID and a RaftAddr", ErrInvalidConfig)
	}
	if len(m.ID) > 0xffff || len(m.ClientEndpoint) > 0xffff {
		return fmt.Errorf("%w: member ID or endpoint longer than 64 KiB", ErrInvalidConfig)
	}
	if err := n.awaitReadyLeader(ctx); err != nil {
		return err
	}
	if err := n.await(ctx, n.raft.AddVoter(raft.ServerID(m.ID), raft.ServerAddress(m.RaftAddr), 0, n.cfg.ApplyTimeout)); err != nil {
		return fmt.Errorf("raftnode: add voter %s: %w", m.ID, err)
	}
	entry := encodeMembers(membersEntry{endpoints: []Member{{ID: m.ID, ClientEndpoint: m.ClientEndpoint}}})
	if _, err := n.propose(ctx, entry); err != nil {
		return fmt.Errorf("raftnode: publish endpoint of %s: %w", m.ID, err)
	}
	return nil
}

// RemoveMember removes the member id from the configuration (this member must be the
// ready leader). Removing the leader itself makes it step down once the change commits;
// its client endpoint is forgotten with the configuration entry.
func (n *Node) RemoveMember(ctx context.Context, id string) error {
	if err := n.awaitReadyLeader(ctx); err != nil {
		return err
	}
	if err := n.await(ctx, n.raft.RemoveServer(raft.ServerID(id), 0, n.cfg.ApplyTimeout)); err != nil {
		return fmt.Errorf("raftnode: remove %s: %w", id, err)
	}
	return nil
}

// Leave removes this member from the cluster through the leader. On the leader it
// removes itself (raft then steps down and shuts this member's raft down once the change
// commits; call Close afterwards). On a follower it returns a *NotLeaderError naming the
// leader, to which the caller sends RemoveMember(n.ID()) by its own means.
func (n *Node) Leave(ctx context.Context) error {
	if t, _ := n.leaderTerm(); t == 0 {
		return n.notLeader()
	}
	n.dropLease()
	return n.RemoveMember(ctx, n.cfg.MemberID)
}

// TransferLeadership hands leadership to the member id (empty: raft picks the most
// up-to-date voter). This member must be the ready leader; it stops serving reads and
// proposals at once, and the call returns when the transfer finished or failed.
func (n *Node) TransferLeadership(ctx context.Context, id string) error {
	if err := n.awaitReadyLeader(ctx); err != nil {
		return err
	}
	term, _ := n.leaderTerm()
	n.setReadyTerm(0)
	// raft refuses new entries during a transfer; those queued may or may not make it.
	n.failWaiting(0, ErrLeadershipLost)
	n.publish()
	defer func() {
		// A failed transfer leaves us leader of the same term: serve again.
		if n.raft.State() == raft.Leader && n.raft.CurrentTerm() == term {
			n.setReadyTerm(term)
			n.publish()
		}
	}()
	var f raft.Future
	if id == "" {
		f = n.raft.LeadershipTransfer()
	} else {
		_, voters := n.fsm.memberView()
		addr, ok := voters[id]
		if !ok {
			return fmt.Errorf("%w: %q is not a member", ErrInvalidConfig, id)
		}
		f = n.raft.LeadershipTransferToServer(raft.ServerID(id), raft.ServerAddress(addr))
	}
	if err := n.await(ctx, f); err != nil {
		return fmt.Errorf("raftnode: leadership transfer: %w", err)
	}
	return nil
}
