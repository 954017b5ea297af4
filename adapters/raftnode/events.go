package raftnode

import (
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/hashicorp/raft"
)

// Role is a member's role as subscribers see it.
type Role uint8

// Roles. A member that raft made leader is RoleCandidate until its leadership is
// established (see Config.LeaderStartedCommand), then RoleLeader.
const (
	RoleFollower Role = iota
	RoleCandidate
	RoleLeader
	RoleShutdown
)

// String names the role.
func (r Role) String() string {
	switch r {
	case RoleFollower:
		return "follower"
	case RoleCandidate:
		return "candidate"
	case RoleLeader:
		return "leader"
	default:
		return "shutdown"
	}
}

// EventKind says what changed since the previous event delivered to the subscriber's
// channel was published, in order of precedence when several things changed.
type EventKind uint8

// Event kinds.
const (
	EventInitial           EventKind = iota // the state when subscribing
	EventBecameLeader                       // this member became the ready leader (Term)
	EventLostLeadership                     // this member was the ready leader and is no longer
	EventLeaderChanged                      // another (or no) member leads now
	EventTermChanged                        // a new term, same leader as far as we know
	EventMembershipChanged                  // voters or client endpoints changed
	EventShutdown                           // the node shut down; the channel closes next
)

// Event is a member's leadership and membership state. Events are level-triggered: each
// carries the whole state, so a subscriber that missed some (see Subscribe) only needs
// the latest one.
type Event struct {
	Seq     uint64 // 1, 2, 3, ... per node; a gap means events were coalesced
	Kind    EventKind
	Role    Role
	Term    uint64   // raft's current term; for RoleLeader the term this member leads
	Leader  Member   // the current leader (ID empty when unknown)
	Members []Member // the committed configuration, by ID
}

func (e Event) sameState(o Event) bool {
	return e.Role == o.Role && e.Term == o.Term && e.Leader == o.Leader && slices.Equal(e.Members, o.Members)
}

func (e Event) kindSince(prev Event) EventKind {
	switch {
	case e.Role == RoleShutdown:
		return EventShutdown
	case e.Role == RoleLeader && (prev.Role != RoleLeader || prev.Term != e.Term):
		return EventBecameLeader
	case prev.Role == RoleLeader && e.Role != RoleLeader:
		return EventLostLeadership
	case e.Leader.ID != prev.Leader.ID:
		return EventLeaderChanged
	case e.Term != prev.Term:
		return EventTermChanged
	default:
		return EventMembershipChanged
	}
}

// Subscription receives a member's events. Its channel holds at most one event: when
// the subscriber is slow, a newer event replaces the undelivered one (coalescing to the
// latest state, never blocking raft), and the Seq gap shows it. The channel is closed
// after the EventShutdown event or when the subscription is closed.
type Subscription struct {
	n  *Node
	ch chan Event
}

// C returns the event channel.
func (s *Subscription) C() <-chan Event { return s.ch }

// Close ends the subscription and closes its channel.
func (s *Subscription) Close() {
	s.n.emu.Lock()
	defer s.n.emu.Unlock()
	if _, ok := s.n.subs[s]; ok {
		delete(s.n.subs, s)
		close(s.ch)
	}
}

type events struct {
	emu       sync.Mutex
	subs      map[*Subscription]struct{}
	last      Event
	membersCh chan struct{} // cap 1: the FSM saw a membership change
	obsCh     chan raft.Observation
	observer  *raft.Observer
}

func (n *Node) initEvents() {
	n.subs = map[*Subscription]struct{}{}
	n.membersCh = make(chan struct{}, 1)
	n.obsCh = make(chan raft.Observation, 64)
}

// Subscribe returns a subscription whose channel first holds the current state.
func (n *Node) Subscribe() *Subscription {
	s := &Subscription{n: n, ch: make(chan Event, 1)}
	n.emu.Lock()
	defer n.emu.Unlock()
	ev := n.last
	if ev.Seq == 0 {
		ev = n.currentState()
	}
	ev.Kind = EventInitial
	s.ch <- ev
	if ev.Role == RoleShutdown {
		close(s.ch)
		return s
	}
	n.subs[s] = struct{}{}
	return s
}

// State returns the member's current state, as an event would carry it.
func (n *Node) State() Event {
	n.emu.Lock()
	defer n.emu.Unlock()
	ev := n.currentState()
	ev.Seq = n.last.Seq
	return ev
}

// Members returns the committed configuration with the replicated client endpoints.
func (n *Node) Members() []Member {
	endpoints, voters := n.fsm.memberView()
	out := make([]Member, 0, len(voters))
	for id, addr := range voters {
		out = append(out, Member{ID: id, RaftAddr: addr, ClientEndpoint: endpoints[id]})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

func (n *Node) currentState() Event {
	if n.closed() {
		return Event{Role: RoleShutdown, Term: n.raft.CurrentTerm()}
	}
	ev := Event{Term: n.raft.CurrentTerm(), Members: n.Members()}
	if t, _ := n.leaderTerm(); t != 0 {
		ev.Role, ev.Term = RoleLeader, t
	} else if s := n.raft.State(); s == raft.Candidate || s == raft.Leader {
		ev.Role = RoleCandidate
	}
	addr, id := n.raft.LeaderWithID()
	if id != "" {
		ev.Leader = Member{ID: string(id), RaftAddr: string(addr), ClientEndpoint: n.fsm.endpoint(string(id))}
	}
	return ev
}

// publish delivers the current state to every subscriber if it changed.
func (n *Node) publish() {
	n.emu.Lock()
	defer n.emu.Unlock()
	ev := n.currentState()
	if n.last.Seq != 0 && ev.sameState(n.last) {
		return
	}
	ev.Kind = ev.kindSince(n.last)
	ev.Seq = n.last.Seq + 1
	n.last = ev
	for s := range n.subs {
		offer(s.ch, ev)
	}
}

// offer puts ev into a one-slot channel, replacing an undelivered older event. Only
// publish sends (under emu), so the loop ends within two rounds.
func offer(ch chan Event, ev Event) {
	for {
		select {
		case ch <- ev:
			return
		default:
		}
		select {
		case <-ch:
		default:
		}
	}
}

func (n *Node) closeSubscriptions() {
	n.emu.Lock()
	defer n.emu.Unlock()
	for s := range n.subs {
		delete(n.subs, s)
		close(s.ch)
	}
}

func (n *Node) kickMembers() {
	select {
	case n.membersCh <- struct{}{}:
	default:
	}
}

func (n *Node) startObserver() {
	n.observer = raft.NewObserver(n.obsCh, false, func(o *raft.Observation) bool {
		switch o.Data.(type) {
		case raft.LeaderObservation, raft.RaftState, raft.PeerObservation:
			return true
		}
		return false
	})
	n.raft.RegisterObserver(n.observer)
	n.loops.Add(1)
	go n.observerLoop()
}

func (n *Node) stopObserver() { n.raft.DeregisterObserver(n.observer) }

// observerLoop republishes the state on raft observations and membership changes. The
// observer is non-blocking (raft drops observations when obsCh is full), so a periodic
// refresh makes sure a dropped one is caught up.
func (n *Node) observerLoop() {
	defer n.loops.Done()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case <-n.stop:
			return
		case <-n.obsCh:
		case <-n.membersCh:
		case <-tick.C:
		}
		n.publish()
	}
}
