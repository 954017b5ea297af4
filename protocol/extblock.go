package protocol

import (
	"encoding/binary"
	"math"
)

// ExtensionMagic starts every extension block. zio-raft ignores trailing bytes; a zraft
// decoder refuses trailing bytes that do not start with it (ErrTrailingBytes).
const ExtensionMagic = "zext"

// Block layout (docs/protocol.md has a worked example):
//
//	magic "zext" | version uint8 | length uint32 | entries (exactly length bytes)
//	entry: type uint16 | length uint32 | value (length bytes)
//
// The block ends the message: nothing may follow it.

func isKnownExtType(t uint16) bool { return t >= ExtTypeVersion && t <= ExtTypeConsistency }

// extensions decodes the optional block after the last v1 field; nil when there is none.
func (r *reader) extensions() *Extensions {
	if r.err != nil || r.left() == 0 {
		return nil
	}
	start := r.off
	if r.left() < len(ExtensionMagic) || string(r.b[start:start+len(ExtensionMagic)]) != ExtensionMagic {
		r.fail("extensions", start, ErrTrailingBytes)
		return nil
	}
	r.off += len(ExtensionMagic)
	if v := r.u8("extensions.version"); r.err == nil && v != ExtensionVersion {
		r.fail("extensions.version", r.off-1, ErrUnsupportedVersion)
	}
	lenOff := r.off
	n := uint64(r.u32("extensions.length"))
	if r.err != nil {
		return nil
	}
	if n > uint64(r.left()) {
		r.fail("extensions.length", lenOff, ErrTruncated)
		return nil
	}
	if n < uint64(r.left()) {
		r.fail("extensions", r.off+int(n), ErrTrailingBytes)
		return nil
	}
	// e stays on the stack until the block is known to be good, so that refused input
	// costs no allocation for it.
	var e Extensions
	var seen uint32
	for r.err == nil && r.left() > 0 {
		off := r.off
		t := r.u16("extensions.entry.type")
		l := uint64(r.u32("extensions.entry.length"))
		if r.err != nil {
			return nil
		}
		if l > uint64(r.left()) {
			r.fail("extensions.entry.length", off+2, ErrTruncated)
			return nil
		}
		end := r.off + int(l)
		if !isKnownExtType(t) {
			e.Unknown = append(e.Unknown, RawExtension{Type: t, Value: r.take(int(l), "extensions.entry")})
			continue
		}
		if seen&(1<<t) != 0 {
			r.fail("extensions.entry.type", off, ErrDuplicateExtension)
			return nil
		}
		seen |= 1 << t
		sub := reader{b: r.b[:end], off: r.off, msg: r.msg}
		sub.entry(t, &e)
		if sub.err == nil && sub.off != end {
			sub.fail("extensions.entry", sub.off, ErrBadExtension)
		}
		if sub.err != nil {
			r.err = sub.err
			return nil
		}
		r.off = end
	}
	if r.err != nil {
		return nil
	}
	p := new(Extensions)
	*p = e
	return p
}

// entry decodes the value of a known entry type into e.
func (r *reader) entry(t uint16, e *Extensions) {
	switch t {
	case ExtTypeVersion:
		off := r.off
		if e.Version = r.u8("extensions.version_entry"); r.err == nil && e.Version == 0 {
			r.fail("extensions.version_entry", off, ErrInvalidValue)
		}
	case ExtTypeTraceParent:
		e.TraceParent = r.nonEmptyRest("extensions.traceparent")
	case ExtTypeTraceState:
		e.TraceState = r.nonEmptyRest("extensions.tracestate")
	case ExtTypeConsistency:
		off := r.off
		if e.Consistency = Consistency(r.u8("extensions.consistency")); r.err == nil && e.Consistency == 0 {
			r.fail("extensions.consistency", off, ErrInvalidValue)
		}
	case ExtTypeMembers:
		off := r.off
		n := int(r.u16("extensions.members.count"))
		if r.err != nil {
			return
		}
		if n == 0 {
			r.fail("extensions.members.count", off, ErrInvalidValue)
			return
		}
		if n*4 > r.left() { // each member takes at least 4 bytes
			r.fail("extensions.members.count", off, ErrTruncated)
			return
		}
		e.Members = make([]Member, n)
		for i := range e.Members {
			e.Members[i].ID = MemberID(r.str16("extensions.members.id", "extensions.members.id.length"))
			e.Members[i].Endpoint = r.str16("extensions.members.endpoint", "extensions.members.endpoint.length")
		}
	}
}

// nonEmptyRest reads the rest of the entry as a non-empty UTF-8 string.
func (r *reader) nonEmptyRest(field string) string {
	if r.left() == 0 {
		r.fail(field, r.off, ErrInvalidValue)
		return ""
	}
	return r.text(r.left(), field)
}

// extensions appends e as a block; a nil e appends nothing. Known entries go first, in
// type order, then the unknown ones in their order.
func (w *writer) extensions(e *Extensions) {
	if e == nil {
		return
	}
	w.b = append(w.b, ExtensionMagic...)
	w.u8(ExtensionVersion)
	blockAt := len(w.b)
	w.u32(0)
	if e.Version != 0 {
		w.u16(ExtTypeVersion)
		w.u32(1)
		w.u8(e.Version)
	}
	w.textEntry(ExtTypeTraceParent, "extensions.traceparent", e.TraceParent)
	w.textEntry(ExtTypeTraceState, "extensions.tracestate", e.TraceState)
	if len(e.Members) > 0 {
		if len(e.Members) > math.MaxUint16 {
			w.fail("extensions.members", ErrInvalidLength)
			return
		}
		w.u16(ExtTypeMembers)
		at := len(w.b)
		w.u32(0)
		w.u16(uint16(len(e.Members)))
		for _, m := range e.Members {
			w.str16("extensions.members.id", string(m.ID))
			w.str16("extensions.members.endpoint", m.Endpoint)
		}
		w.patchLength(at, "extensions.members")
	}
	if e.Consistency != 0 {
		w.u16(ExtTypeConsistency)
		w.u32(1)
		w.u8(uint8(e.Consistency))
	}
	for _, u := range e.Unknown {
		if isKnownExtType(u.Type) {
			w.fail("extensions.unknown.type", ErrInvalidValue)
			return
		}
		if uint64(len(u.Value)) > math.MaxUint32 {
			w.fail("extensions.unknown.value", ErrInvalidLength)
			return
		}
		w.u16(u.Type)
		w.u32(uint32(len(u.Value)))
		w.b = append(w.b, u.Value...)
	}
	w.patchLength(blockAt, "extensions")
}

func (w *writer) textEntry(t uint16, field, s string) {
	if s == "" || !w.checkText(field, s, math.MaxUint32) {
		return
	}
	w.u16(t)
	w.u32(uint32(len(s)))
	w.b = append(w.b, s...)
}

// patchLength writes into the uint32 at w.b[at:] the number of bytes that follow it.
func (w *writer) patchLength(at int, field string) {
	n := uint64(len(w.b) - at - 4)
	if n > math.MaxUint32 {
		w.fail(field, ErrInvalidLength)
		return
	}
	binary.BigEndian.PutUint32(w.b[at:], uint32(n))
}
