package session

import (
	"cmp"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"slices"
	"strings"
)

// SnapshotFormatVersion follows the 4-byte magic "ZRSM" at the start of every snapshot.
const SnapshotFormatVersion = 1

const snapshotMagic = "ZRSM"

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// AppendSnapshot appends a deterministic encoding of the whole replicated state (sessions,
// caches, queues, watermarks, rotation cursors, log time, and the application's state) to
// dst. Two machines that applied the same log produce identical bytes. The format is in
// docs/session.md.
func (m *Machine) AppendSnapshot(dst []byte) []byte {
	start := len(dst)
	b := append(dst, snapshotMagic...)
	b = append(b, SnapshotFormatVersion)
	b = binary.AppendUvarint(b, m.lastIndex)
	b = binary.AppendVarint(b, m.now)
	b = binary.AppendVarint(b, m.graceUntil)
	b = binary.AppendUvarint(b, m.term)
	b = binary.AppendUvarint(b, m.createSeq)
	b = binary.AppendUvarint(b, m.queueSeq)

	// Capability sets in order of first use along the activity list, so the table is a
	// function of the session list alone (never of map order).
	index := make(map[*capSet]uint64, len(m.capsets))
	var sets []*capSet
	for s := m.head; s != nil; s = s.next {
		if _, ok := index[s.caps]; !ok {
			index[s.caps] = uint64(len(sets))
			sets = append(sets, s.caps)
		}
	}
	b = binary.AppendUvarint(b, uint64(len(sets)))
	for _, cs := range sets {
		b = binary.AppendUvarint(b, uint64(len(cs.pairs)))
		for _, p := range cs.pairs {
			b = appendString(b, p.Key)
			b = appendString(b, p.Value)
		}
	}

	b = binary.AppendUvarint(b, uint64(len(m.sessions)))
	for s := m.head; s != nil; s = s.next {
		b = appendString(b, s.id)
		b = binary.AppendUvarint(b, index[s.caps])
		b = binary.AppendUvarint(b, s.createSeq)
		b = binary.AppendVarint(b, s.createdAt)
		b = binary.AppendVarint(b, s.lastActivity)
		b = binary.AppendUvarint(b, s.floor)
		b = binary.AppendUvarint(b, s.nextSeq)
		b = binary.AppendUvarint(b, s.queueSeq)
		b = binary.AppendUvarint(b, uint64(len(s.cache)))
		for _, c := range s.cache {
			b = binary.AppendUvarint(b, c.id)
			if c.failed {
				b = append(b, 1)
			} else {
				b = append(b, 0)
			}
			b = appendBytes(b, c.data)
		}
		b = binary.AppendUvarint(b, uint64(len(s.pending)))
		for _, p := range s.pending {
			b = binary.AppendUvarint(b, p.seq)
			b = binary.AppendVarint(b, p.createdAt)
			b = binary.AppendVarint(b, p.due)
			b = binary.AppendUvarint(b, uint64(p.attempts))
			b = appendBytes(b, p.payload)
		}
	}

	// Rotation cursors that have moved off the head, sorted by pair, each as the
	// creation number of the session the rotation picks next.
	var groups []*capGroup
	for _, g := range m.groups {
		if g.movedCursor() != nil {
			groups = append(groups, g)
		}
	}
	slices.SortFunc(groups, func(x, y *capGroup) int { return comparePairs(x.pair, y.pair) })
	b = binary.AppendUvarint(b, uint64(len(groups)))
	for _, g := range groups {
		b = appendString(b, g.pair.Key)
		b = appendString(b, g.pair.Value)
		b = binary.AppendUvarint(b, g.cursor.s.createSeq)
	}

	b = appendBytes(b, m.app.AppendSnapshot(nil))
	return binary.BigEndian.AppendUint32(b, crc32.Checksum(b[start:], castagnoli))
}

// Restore replaces the machine's state with a snapshot made by AppendSnapshot, then
// restores the application's part. The snapshot is checked entirely (checksum, structure
// and the machine's invariants) before anything changes; on error the machine keeps its
// state (the application's state is whatever its Restore left on its own error).
// Byte fields of the restored state alias b: do not modify b afterwards.
func (m *Machine) Restore(b []byte) error {
	if len(b) < len(snapshotMagic)+1+4 {
		return fmt.Errorf("%w: snapshot too short", ErrMalformed)
	}
	body, sum := b[:len(b)-4], binary.BigEndian.Uint32(b[len(b)-4:])
	if crc32.Checksum(body, castagnoli) != sum {
		return fmt.Errorf("%w: snapshot checksum mismatch", ErrMalformed)
	}
	if string(body[:4]) != snapshotMagic {
		return fmt.Errorf("%w: not a session snapshot", ErrMalformed)
	}
	if body[4] != SnapshotFormatVersion {
		return fmt.Errorf("%w: unknown snapshot format version %d", ErrMalformed, body[4])
	}
	n := &Machine{cfg: m.cfg, app: m.app}
	n.reset()
	appState, err := n.decodeState(&reader{b: body[5:]})
	if err != nil {
		return err
	}
	if err := m.app.Restore(appState); err != nil {
		return fmt.Errorf("session: restoring the application: %w", err)
	}
	m.sessions, m.head, m.tail, m.capsets, m.groups = n.sessions, n.head, n.tail, n.capsets, n.groups
	m.queuedHead, m.queuedTail = n.queuedHead, n.queuedTail
	m.now, m.graceUntil, m.term, m.lastIndex, m.createSeq, m.queueSeq = n.now, n.graceUntil, n.term, n.lastIndex, n.createSeq, n.queueSeq
	return nil
}

func (n *Machine) decodeState(r *reader) ([]byte, error) {
	n.lastIndex = r.uvarint()
	n.now = r.varint()
	n.graceUntil = r.varint()
	n.term = r.uvarint()
	n.createSeq = r.uvarint()
	n.queueSeq = r.uvarint()

	sets := make([][]Capability, r.count(1))
	for i := range sets {
		pairs := make([]Capability, r.count(2))
		for j := range pairs {
			pairs[j] = Capability{Key: r.string(), Value: r.string()}
			if j > 0 && pairs[j-1].Key >= pairs[j].Key {
				r.fail("capability set not canonical")
			}
		}
		sets[i] = pairs
	}
	if r.err != nil {
		return nil, r.err
	}
	firstUnused := uint64(0)
	interned := make([]*capSet, len(sets))

	count := r.count(10)
	all := make([]*session, 0, count)
	var queued []*session
	n.sessions = make(map[string]*session, count)
	for range count {
		s := &session{id: r.string()}
		ci := r.uvarint()
		s.createSeq = r.uvarint()
		s.createdAt = r.varint()
		s.lastActivity = r.varint()
		s.floor = r.uvarint()
		s.nextSeq = r.uvarint()
		s.queueSeq = r.uvarint()
		if r.err != nil {
			return nil, r.err
		}
		if ci >= uint64(len(sets)) {
			r.fail("capability set index %d out of range", ci)
			return nil, r.err
		}
		if n.sessions[s.id] != nil {
			r.fail("duplicate session %q", s.id)
			return nil, r.err
		}
		if s.createSeq == 0 || s.createSeq > n.createSeq {
			r.fail("session %q: creation number %d out of range", s.id, s.createSeq)
			return nil, r.err
		}
		if n.tail != nil && s.lastActivity < n.tail.lastActivity || s.lastActivity > n.now || s.createdAt > s.lastActivity {
			r.fail("session %q out of activity order", s.id)
			return nil, r.err
		}
		// The table lists each set once, in order of first use: anything else would not
		// re-encode to the same bytes.
		if ci == firstUnused {
			if n.capsets[capsKey(sets[ci])] != nil {
				r.fail("duplicate capability set")
				return nil, r.err
			}
			interned[ci] = n.intern(sets[ci])
			firstUnused++
		} else if ci > firstUnused {
			r.fail("capability set %d used before %d", ci, firstUnused)
			return nil, r.err
		} else {
			interned[ci].refs++
		}
		s.caps = interned[ci]
		// Groups are joined below, in creation order.
		n.sessions[s.id] = s
		n.pushBack(s)
		all = append(all, s)
		if k := r.count(3); k > 0 {
			s.cache = make([]cachedResponse, k)
			for i := range s.cache {
				c := &s.cache[i]
				c.id = r.uvarint()
				switch r.byte() {
				case 0:
				case 1:
					c.failed = true
				default:
					r.fail("bad cache flag")
				}
				c.data = r.bytes()
				if c.id < s.floor || i > 0 && c.id <= s.cache[i-1].id {
					r.fail("session %q: cache ids out of order", s.id)
				}
			}
		}
		if k := r.count(5); k > 0 {
			s.pending = make([]pendingRequest, k)
			for i := range s.pending {
				p := &s.pending[i]
				p.seq = r.uvarint()
				p.createdAt = r.varint()
				p.due = r.varint()
				a := r.uvarint()
				if a > 1<<32-1 {
					r.fail("attempts overflow")
				}
				p.attempts = uint32(a)
				p.payload = r.bytes()
				if p.seq == 0 || p.seq > s.nextSeq || i > 0 && p.seq <= s.pending[i-1].seq {
					r.fail("session %q: server request seqs out of order", s.id)
				}
			}
		}
		if (s.queueSeq == 0) != (len(s.pending) == 0) || s.queueSeq > n.queueSeq {
			r.fail("session %q: queue number %d", s.id, s.queueSeq)
			return nil, r.err
		}
		if s.queueSeq != 0 {
			queued = append(queued, s)
		}
		if r.err != nil {
			return nil, r.err
		}
	}
	if firstUnused != uint64(len(sets)) {
		r.fail("capability set %d unused", firstUnused)
		return nil, r.err
	}

	slices.SortFunc(all, func(x, y *session) int { return cmp.Compare(x.createSeq, y.createSeq) })
	for i, s := range all {
		if i > 0 && all[i-1].createSeq == s.createSeq {
			r.fail("duplicate creation number %d", s.createSeq)
			return nil, r.err
		}
		n.join(s)
	}

	slices.SortFunc(queued, func(x, y *session) int { return cmp.Compare(x.queueSeq, y.queueSeq) })
	for i, s := range queued {
		if i > 0 && queued[i-1].queueSeq == s.queueSeq {
			r.fail("duplicate queue number %d", s.queueSeq)
			return nil, r.err
		}
		n.linkQueued(s)
	}

	cursors := r.count(3)
	var prev Capability
	for i := range cursors {
		p := Capability{Key: r.string(), Value: r.string()}
		seq := r.uvarint()
		if r.err != nil {
			return nil, r.err
		}
		if i > 0 && comparePairs(prev, p) >= 0 {
			r.fail("cursors not sorted")
			return nil, r.err
		}
		prev = p
		g := n.groups[p]
		j, found := slices.BinarySearchFunc(all, seq, func(s *session, seq uint64) int { return cmp.Compare(s.createSeq, seq) })
		if g == nil || !found {
			r.fail("cursor for %s=%s at no session", p.Key, p.Value)
			return nil, r.err
		}
		s := all[j]
		k := slices.Index(s.caps.pairs, p)
		if k < 0 || &s.members[k] == g.head {
			r.fail("cursor for %s=%s at a session outside the group or at its head", p.Key, p.Value)
			return nil, r.err
		}
		g.cursor = &s.members[k]
	}
	app := r.bytes()
	if r.err == nil && len(r.b) > 0 {
		r.fail("%d trailing bytes", len(r.b))
	}
	return app, r.err
}

func comparePairs(x, y Capability) int {
	if c := strings.Compare(x.Key, y.Key); c != 0 {
		return c
	}
	return strings.Compare(x.Value, y.Value)
}
