package kv

import (
	"encoding/binary"
	"fmt"
	"maps"
	"slices"
	"unicode/utf8"
)

// SnapshotVersion follows the magic "ZRKV" at the start of every App snapshot.
const SnapshotVersion = 1

const snapshotMagic = "ZRKV"

// AppendSnapshot appends the App's state to dst: everything sorted, so two Apps that
// applied the same commands give identical bytes. The format is in docs/kv.md.
func (a *App) AppendSnapshot(dst []byte) []byte {
	b := append(dst, snapshotMagic...)
	b = append(b, SnapshotVersion)
	b = binary.AppendUvarint(b, a.overflows)

	keys := slices.Sorted(maps.Keys(a.values))
	b = binary.AppendUvarint(b, uint64(len(keys)))
	for _, k := range keys {
		b = appendString(b, k)
		b = appendString(b, a.values[k])
	}

	keys = slices.Sorted(maps.Keys(a.watchers))
	b = binary.AppendUvarint(b, uint64(len(keys)))
	for _, k := range keys {
		b = appendString(b, k)
		b = appendStrings(b, a.watchers[k])
	}

	b = binary.AppendUvarint(b, uint64(len(a.lagging)))
	for _, s := range a.lagging {
		b = appendString(b, s)
		b = appendStrings(b, a.subs[s].missed)
	}
	return b
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func appendStrings(b []byte, ss []string) []byte {
	b = binary.AppendUvarint(b, uint64(len(ss)))
	for _, s := range ss {
		b = appendString(b, s)
	}
	return b
}

// Restore replaces the App's state with a snapshot made by AppendSnapshot. It checks
// everything first (structure, strict order, minimal varints, UTF-8 keys and values,
// missed keys being watched) and leaves the state unchanged on error, which wraps
// ErrSnapshot. A snapshot that restores re-encodes to the same bytes.
func (a *App) Restore(b []byte) error {
	n, err := decodeSnapshot(b)
	if err != nil {
		return err
	}
	*a = *n
	return nil
}

func decodeSnapshot(b []byte) (*App, error) {
	if len(b) < len(snapshotMagic)+1 || string(b[:len(snapshotMagic)]) != snapshotMagic {
		return nil, fmt.Errorf("%w: not a kv snapshot", ErrSnapshot)
	}
	if v := b[len(snapshotMagic)]; v != SnapshotVersion {
		return nil, fmt.Errorf("%w: unknown version %d", ErrSnapshot, v)
	}
	r := &reader{b: b[len(snapshotMagic)+1:]}
	a := New()
	a.overflows = r.uvarint()

	// Every entry takes at least two bytes (two lengths, or a length and a count), so
	// no count can make us allocate more than the input holds.
	nvalues := r.count(2)
	prev := ""
	for i := range nvalues {
		k, v := r.text("key"), r.text("value")
		if r.err == nil && i > 0 && k <= prev {
			r.fail("keys not strictly ascending")
		}
		if r.err != nil {
			return nil, r.err
		}
		a.values[k], prev = v, k
	}

	nwatched := r.count(2)
	for i := range nwatched {
		k := r.text("watched key")
		ws := r.sortedStrings("watcher", false)
		if r.err == nil && (i > 0 && k <= prev || len(ws) == 0) {
			r.fail("watched keys not strictly ascending or without watchers")
		}
		if r.err != nil {
			return nil, r.err
		}
		a.watchers[k], prev = ws, k
		for _, s := range ws {
			sub := a.subs[s]
			if sub == nil {
				sub = &subscriber{keys: make(map[string]struct{})}
				a.subs[s] = sub
			}
			sub.keys[k] = struct{}{}
			a.watches++
		}
	}

	nlagging := r.count(2)
	for i := range nlagging {
		s := r.bytes("lagging session")
		missed := r.sortedStrings("missed key", true)
		if r.err != nil {
			return nil, r.err
		}
		sub := a.subs[s]
		switch {
		case i > 0 && s <= a.lagging[i-1]:
			r.fail("lagging sessions not strictly ascending")
		case sub == nil || len(missed) == 0:
			r.fail("lagging session %q watches nothing or misses nothing", s)
		}
		if r.err != nil {
			return nil, r.err
		}
		for _, k := range missed {
			if _, ok := sub.keys[k]; !ok {
				r.fail("session %q misses unwatched key %q", s, k)
				return nil, r.err
			}
		}
		a.lagging = append(a.lagging, s)
		sub.missed = missed
	}
	if r.err == nil && len(r.b) > 0 {
		r.fail("%d trailing bytes", len(r.b))
	}
	if r.err != nil {
		return nil, r.err
	}
	return a, nil
}

// reader decodes a snapshot; the first failure sticks and makes every later read a no-op.
type reader struct {
	b   []byte
	err error
}

func (r *reader) fail(format string, args ...any) {
	if r.err == nil {
		r.err = fmt.Errorf("%w: %s", ErrSnapshot, fmt.Sprintf(format, args...))
	}
}

// uvarint reads a minimally encoded uvarint: a longer encoding of the same number would
// not re-encode to the same bytes.
func (r *reader) uvarint() uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.fail("bad varint")
		return 0
	}
	if n != len(binary.AppendUvarint(make([]byte, 0, binary.MaxVarintLen64), v)) {
		r.fail("non-minimal varint")
		return 0
	}
	r.b = r.b[n:]
	return v
}

// count reads an element count and checks that the rest of the input can hold that many
// elements of at least minSize bytes each.
func (r *reader) count(minSize int) int {
	c := r.uvarint()
	if r.err == nil && c > uint64(len(r.b)/minSize) {
		r.fail("count %d exceeds the input", c)
	}
	if r.err != nil {
		return 0
	}
	return int(c)
}

// bytes reads a length-prefixed string, checking the length against the input first.
func (r *reader) bytes(field string) string {
	l := r.uvarint()
	if r.err == nil && l > uint64(len(r.b)) {
		r.fail("%s: length %d exceeds the input", field, l)
	}
	if r.err != nil {
		return ""
	}
	s := string(r.b[:l])
	r.b = r.b[l:]
	return s
}

// text reads a key or a value, which must be UTF-8 (kvwire only decodes UTF-8).
func (r *reader) text(field string) string {
	s := r.bytes(field)
	if r.err == nil && !utf8.ValidString(s) {
		r.fail("%s: invalid UTF-8", field)
	}
	return s
}

// sortedStrings reads a non-empty list of strictly ascending strings; keys are checked
// for UTF-8, session ids are taken as the machine gave them.
func (r *reader) sortedStrings(field string, utf bool) []string {
	n := r.count(1)
	if r.err == nil && n == 0 {
		r.fail("empty %s list", field)
	}
	out := make([]string, 0, n)
	for i := range n {
		var s string
		if utf {
			s = r.text(field)
		} else {
			s = r.bytes(field)
		}
		if r.err == nil && i > 0 && s <= out[i-1] {
			r.fail("%s list not strictly ascending", field)
		}
		if r.err != nil {
			return nil
		}
		out = append(out, s)
	}
	return out
}
