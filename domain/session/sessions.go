package session

import (
	"cmp"
	"encoding/binary"
	"slices"
	"strings"
)

// session is one live session. It is kept small (the target is ≤ 512 bytes per idle
// session, map entry included): capabilities are interned, empty caches and queues are nil.
type session struct {
	id   string
	caps *capSet
	// prev and next link the activity list: sessions ordered by lastActivity, oldest
	// first, ties in log order. Activity always moves a session to the tail (log time
	// never goes back), so expiry only ever looks at the head.
	prev, next   *session
	createdAt    int64
	lastActivity int64
	// floor is the watermark: request ids below it are not cached and never run again
	// (the highest lowest-pending id K seen, or one past a response the bound evicted).
	floor uint64
	// nextSeq is the last server request sequence number issued (they start at 1).
	nextSeq uint64
	// createSeq orders sessions by creation, for the capability rotation.
	createSeq uint64
	members   []member // one per capability pair, same order as caps.pairs
	// queueSeq is non-zero while pending is: the machine's queueSeq when the queue became
	// non-empty, which orders the machine's list of sessions with pending requests.
	queueSeq               uint64
	queuedPrev, queuedNext *session
	cache                  []cachedResponse // ascending ids, all ≥ floor
	pending                []pendingRequest // ascending seqs, unacknowledged
}

type cachedResponse struct {
	id     uint64
	failed bool
	data   []byte
}

type pendingRequest struct {
	seq       uint64
	createdAt int64
	due       int64
	attempts  uint32
	payload   []byte
}

// capSet is an interned, canonical capability set shared by every session declaring it.
type capSet struct {
	key    string
	pairs  []Capability
	groups []*capGroup // one per pair, same order
	refs   int
}

// capGroup lists the live sessions holding one key=value pair, in creation order, with
// the rotation cursor of the fair-rotation helper. A linked list keeps creating and
// removing a session O(1) however many sessions share the pair.
type capGroup struct {
	pair       Capability
	head, tail *member
	// cursor is the member the rotation picks next; nil means the head.
	cursor *member
	n      int
}

// member is one session's place in one capGroup.
type member struct {
	s          *session
	prev, next *member
}

func (g *capGroup) add(mb *member) {
	mb.prev, mb.next = g.tail, nil
	if g.tail != nil {
		g.tail.next = mb
	} else {
		g.head = mb
	}
	g.tail = mb
	g.n++
}

func (g *capGroup) removeMember(mb *member) {
	if g.cursor == mb {
		g.cursor = mb.next
	}
	if mb.prev != nil {
		mb.prev.next = mb.next
	} else {
		g.head = mb.next
	}
	if mb.next != nil {
		mb.next.prev = mb.prev
	} else {
		g.tail = mb.prev
	}
	mb.prev, mb.next = nil, nil
	g.n--
}

// pick returns the member the rotation is at and moves the rotation one further.
func (g *capGroup) pick() *member {
	c := g.cursor
	if c == nil {
		c = g.head
	}
	g.cursor = c.next
	return c
}

// movedCursor is the rotation point if it is not the head (the canonical form: a cursor
// at the head behaves exactly like no cursor).
func (g *capGroup) movedCursor() *member {
	if g.cursor == g.head {
		return nil
	}
	return g.cursor
}

// canonicalCaps sorts by key and keeps the last value of a duplicated key, as the wire
// protocol says ("a duplicate key: the last one wins").
func canonicalCaps(caps []Capability) []Capability {
	out := slices.Clone(caps)
	slices.SortStableFunc(out, func(a, b Capability) int { return strings.Compare(a.Key, b.Key) })
	w := 0
	for i := range out {
		if w > 0 && out[w-1].Key == out[i].Key {
			out[w-1] = out[i]
			continue
		}
		out[w] = out[i]
		w++
	}
	return out[:w:w]
}

func capsKey(pairs []Capability) string {
	var b []byte
	for _, p := range pairs {
		b = binary.AppendUvarint(b, uint64(len(p.Key)))
		b = append(b, p.Key...)
		b = binary.AppendUvarint(b, uint64(len(p.Value)))
		b = append(b, p.Value...)
	}
	return string(b)
}

// intern returns the shared capSet for canonical pairs, creating it and its groups.
func (m *Machine) intern(pairs []Capability) *capSet {
	key := capsKey(pairs)
	if cs := m.capsets[key]; cs != nil {
		cs.refs++
		return cs
	}
	cs := &capSet{key: key, pairs: pairs, refs: 1, groups: make([]*capGroup, len(pairs))}
	for i, p := range pairs {
		g := m.groups[p]
		if g == nil {
			g = &capGroup{pair: p}
			m.groups[p] = g
		}
		cs.groups[i] = g
	}
	m.capsets[key] = cs
	return cs
}

func (m *Machine) release(cs *capSet) {
	cs.refs--
	if cs.refs > 0 {
		return
	}
	delete(m.capsets, cs.key)
}

// insert adds a new session: map, tail of the activity list, capability groups.
func (m *Machine) insert(s *session) {
	m.sessions[s.id] = s
	m.pushBack(s)
	m.join(s)
}

// join adds s to the groups of its capabilities, at their tails.
func (m *Machine) join(s *session) {
	if len(s.caps.groups) == 0 {
		return
	}
	s.members = make([]member, len(s.caps.groups))
	for i, g := range s.caps.groups {
		s.members[i].s = s
		g.add(&s.members[i])
	}
}

// remove deletes s and everything it owns: no trace is left.
func (m *Machine) remove(s *session) {
	delete(m.sessions, s.id)
	m.unlink(s)
	for i, g := range s.caps.groups {
		g.removeMember(&s.members[i])
		if g.n == 0 {
			delete(m.groups, g.pair)
		}
	}
	if len(s.pending) > 0 {
		m.dequeue(s)
	}
	m.release(s.caps)
	*s = session{id: s.id}
}

func (m *Machine) pushBack(s *session) {
	s.prev, s.next = m.tail, nil
	if m.tail != nil {
		m.tail.next = s
	} else {
		m.head = s
	}
	m.tail = s
}

func (m *Machine) unlink(s *session) {
	if s.prev != nil {
		s.prev.next = s.next
	} else {
		m.head = s.next
	}
	if s.next != nil {
		s.next.prev = s.prev
	} else {
		m.tail = s.prev
	}
	s.prev, s.next = nil, nil
}

// touch records activity of s at log time now.
func (m *Machine) touch(s *session) {
	s.lastActivity = m.now
	if m.tail != s {
		m.unlink(s)
		m.pushBack(s)
	}
}

// lookupCache finds request id in s's cache.
func (s *session) lookupCache(id uint64) (int, bool) {
	return slices.BinarySearchFunc(s.cache, id, func(c cachedResponse, id uint64) int { return cmp.Compare(c.id, id) })
}

// cacheResponse stores a response and enforces the bound: the lowest ids go first and the
// watermark moves past them, so their retries are answered ResponseEvicted.
func (m *Machine) cacheResponse(s *session, c cachedResponse) {
	if n := len(s.cache); n == 0 || s.cache[n-1].id < c.id {
		s.cache = append(s.cache, c)
	} else {
		i, _ := s.lookupCache(c.id)
		s.cache = slices.Insert(s.cache, i, c)
	}
	for len(s.cache) > m.cfg.MaxCachedResponses {
		evicted := s.cache[0].id // < MaxUint64: request refuses that id
		s.cache[0] = cachedResponse{}
		s.cache = s.cache[1:]
		s.floor = max(s.floor, evicted+1)
	}
}

// raiseFloor moves the watermark up to k and drops cached responses below it. The
// survivors move down so the slice keeps its capacity: with the usual K = oldest waiting
// id, each request drops one response and caches one, without allocating.
func (s *session) raiseFloor(k uint64) {
	if k <= s.floor {
		return
	}
	s.floor = k
	i, _ := s.lookupCache(k)
	if i == 0 {
		return
	}
	n := copy(s.cache, s.cache[i:])
	clear(s.cache[n:])
	s.cache = s.cache[:n]
	if c := cap(s.cache); c > 8 && n*4 < c {
		// A burst of outstanding requests is over: give the large array back.
		s.cache = append([]cachedResponse(nil), s.cache...)
	}
}

// ack drops the pending server requests with seq ≤ upTo.
func (m *Machine) ack(s *session, upTo uint64) {
	i := 0
	for i < len(s.pending) && s.pending[i].seq <= upTo {
		i++
	}
	if i == 0 {
		return
	}
	clear(s.pending[:i])
	s.pending = s.pending[i:]
	if len(s.pending) == 0 {
		s.pending = nil
		m.dequeue(s)
	}
}

// enqueue appends s, whose queue is becoming non-empty, to the list of queued sessions.
func (m *Machine) enqueue(s *session) {
	m.queueSeq++
	s.queueSeq = m.queueSeq
	m.linkQueued(s)
}

func (m *Machine) linkQueued(s *session) {
	s.queuedPrev, s.queuedNext = m.queuedTail, nil
	if m.queuedTail != nil {
		m.queuedTail.queuedNext = s
	} else {
		m.queuedHead = s
	}
	m.queuedTail = s
}

func (m *Machine) dequeue(s *session) {
	if s.queuedPrev != nil {
		s.queuedPrev.queuedNext = s.queuedNext
	} else {
		m.queuedHead = s.queuedNext
	}
	if s.queuedNext != nil {
		s.queuedNext.queuedPrev = s.queuedPrev
	} else {
		m.queuedTail = s.queuedPrev
	}
	s.queuedPrev, s.queuedNext, s.queueSeq = nil, nil, 0
}

// deadline is the log time after which s expires, grace aside.
func (m *Machine) deadline(s *session) int64 { return addSat(s.lastActivity, m.cfg.SessionTimeout) }

// backoff is the redelivery delay after attempts redeliveries: base doubled each time,
// capped.
func (m *Machine) backoff(attempts uint32) int64 {
	d := m.cfg.RedeliveryBase
	for range attempts {
		if d >= m.cfg.RedeliveryMax/2 {
			return m.cfg.RedeliveryMax
		}
		d *= 2
	}
	return min(d, m.cfg.RedeliveryMax)
}

// addSat adds without overflowing: stamps are leader data and may be anything.
func addSat(a, b int64) int64 {
	s := a + b
	if b > 0 && s < a {
		return 1<<63 - 1
	}
	if b < 0 && s > a {
		return -1 << 63
	}
	return s
}
