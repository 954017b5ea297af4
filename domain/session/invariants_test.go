package session

import (
	"fmt"
	"slices"
)

// CheckInvariants is exported to the external tests (property, fuzz): it reports the
// first broken invariant of the machine's internal structure, or nil.
func (m *Machine) CheckInvariants() error { return m.checkInvariants() }

// CheckExpired reports a session that should have expired at the last applied entry.
// It holds after every Apply; a restored snapshot may hold such sessions (a restart with a
// shorter SessionTimeout), which the next entry expires.
func (m *Machine) CheckExpired() error {
	for s := m.head; s != nil; s = s.next {
		if m.now > m.graceUntil && m.deadline(s) < m.now {
			return fmt.Errorf("session %q should have expired: deadline %d < now %d", s.id, m.deadline(s), m.now)
		}
	}
	return nil
}

func (m *Machine) checkInvariants() error {
	n := 0
	refs := map[*capSet]int{}
	var prev *session
	for s := m.head; s != nil; s = s.next {
		n++
		if n > len(m.sessions) {
			return fmt.Errorf("activity list longer than the session map (%d)", len(m.sessions))
		}
		if m.sessions[s.id] != s {
			return fmt.Errorf("session %q in the list but not in the map", s.id)
		}
		if s.prev != prev {
			return fmt.Errorf("session %q: broken prev link", s.id)
		}
		if prev != nil && prev.lastActivity > s.lastActivity {
			return fmt.Errorf("session %q: activity list out of order", s.id)
		}
		if s.lastActivity > m.now || s.createdAt > s.lastActivity {
			return fmt.Errorf("session %q: times created=%d active=%d now=%d", s.id, s.createdAt, s.lastActivity, m.now)
		}
		if len(s.cache) > m.cfg.MaxCachedResponses {
			return fmt.Errorf("session %q: %d cached responses exceed the bound", s.id, len(s.cache))
		}
		// An emptied cache keeps its capacity on purpose (the next request reuses it); an
		// emptied queue is released.
		if s.pending != nil && len(s.pending) == 0 {
			return fmt.Errorf("session %q: empty but allocated queue", s.id)
		}
		for i, c := range s.cache {
			if c.id < s.floor || i > 0 && c.id <= s.cache[i-1].id {
				return fmt.Errorf("session %q: cache ids out of order or below floor %d", s.id, s.floor)
			}
		}
		if len(s.pending) > m.cfg.MaxPendingRequests {
			return fmt.Errorf("session %q: %d pending requests exceed the bound", s.id, len(s.pending))
		}
		for i, p := range s.pending {
			if p.seq == 0 || p.seq > s.nextSeq || i > 0 && p.seq <= s.pending[i-1].seq {
				return fmt.Errorf("session %q: pending seqs out of order", s.id)
			}
		}
		if (s.queueSeq == 0) != (len(s.pending) == 0) || s.queueSeq > m.queueSeq {
			return fmt.Errorf("session %q: queue number %d with %d pending", s.id, s.queueSeq, len(s.pending))
		}
		refs[s.caps]++
		if len(s.members) != len(s.caps.pairs) || s.createSeq == 0 || s.createSeq > m.createSeq {
			return fmt.Errorf("session %q: %d memberships for %d pairs, creation %d of %d", s.id, len(s.members), len(s.caps.pairs), s.createSeq, m.createSeq)
		}
		for i, p := range s.caps.pairs {
			g := s.caps.groups[i]
			if g.pair != p || m.groups[p] != g {
				return fmt.Errorf("session %q: capability group %v not registered", s.id, p)
			}
			if s.members[i].s != s {
				return fmt.Errorf("session %q: membership %d points elsewhere", s.id, i)
			}
		}
		prev = s
	}
	if n != len(m.sessions) || m.tail != prev {
		return fmt.Errorf("activity list has %d sessions, map %d", n, len(m.sessions))
	}
	queued := 0
	var prevQ *session
	for s := m.queuedHead; s != nil; s = s.queuedNext {
		queued++
		if queued > len(m.sessions) || m.sessions[s.id] != s || len(s.pending) == 0 || s.queuedPrev != prevQ {
			return fmt.Errorf("queued list broken at %q", s.id)
		}
		if prevQ != nil && prevQ.queueSeq >= s.queueSeq {
			return fmt.Errorf("queued list out of order at %q", s.id)
		}
		prevQ = s
	}
	withPending := 0
	for _, s := range m.sessions {
		if len(s.pending) > 0 {
			withPending++
		}
	}
	if queued != withPending || m.queuedTail != prevQ {
		return fmt.Errorf("%d queued sessions listed, %d have pending requests", queued, withPending)
	}
	if len(refs) != len(m.capsets) {
		return fmt.Errorf("%d capability sets in use, %d interned", len(refs), len(m.capsets))
	}
	for cs, r := range refs {
		if m.capsets[cs.key] != cs || cs.refs != r {
			return fmt.Errorf("capability set %q: refs %d, counted %d", cs.key, cs.refs, r)
		}
	}
	for p, g := range m.groups {
		if g.n == 0 || g.pair != p {
			return fmt.Errorf("group %v empty or mislabelled", p)
		}
		count, cursorSeen := 0, g.cursor == nil
		var prev *member
		for mb := g.head; mb != nil; mb = mb.next {
			count++
			if count > g.n {
				return fmt.Errorf("group %v: list longer than %d", p, g.n)
			}
			if mb.prev != prev {
				return fmt.Errorf("group %v: broken prev link", p)
			}
			s := mb.s
			k := slices.Index(s.caps.pairs, p)
			if m.sessions[s.id] != s || k < 0 || &s.members[k] != mb {
				return fmt.Errorf("group %v holds a dead or foreign session %q", p, s.id)
			}
			if prev != nil && prev.s.createSeq >= s.createSeq {
				return fmt.Errorf("group %v not in creation order", p)
			}
			cursorSeen = cursorSeen || g.cursor == mb
			prev = mb
		}
		if count != g.n || g.tail != prev || !cursorSeen {
			return fmt.Errorf("group %v: %d members counted, %d recorded, cursor found %v", p, count, g.n, cursorSeen)
		}
	}
	return nil
}
