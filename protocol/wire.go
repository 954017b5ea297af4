package protocol

import (
	"encoding/binary"
	"math"
	"strings"
	"unicode/utf8"
)

// reader decodes fields from a message. The first failure sticks: later reads return
// zero values and the caller checks err once at the end, which keeps the per-message
// decoders a plain list of fields. Every length is checked against the bytes actually
// left before anything is sliced or allocated, so a lying length costs nothing.
type reader struct {
	b   []byte
	off int
	msg string
	err error
}

func (r *reader) fail(field string, off int, err error) {
	if r.err == nil {
		r.err = &DecodeError{Message: r.msg, Field: field, Offset: off, Err: err}
	}
}

func (r *reader) left() int { return len(r.b) - r.off }

// take returns the next n bytes (aliasing the input), or nil after recording a failure.
func (r *reader) take(n int, field string) []byte {
	if r.err != nil {
		return nil
	}
	if n > r.left() {
		r.fail(field, r.off, ErrTruncated)
		return nil
	}
	p := r.b[r.off : r.off+n : r.off+n]
	r.off += n
	return p
}

func (r *reader) u8(field string) uint8 {
	p := r.take(1, field)
	if p == nil {
		return 0
	}
	return p[0]
}

func (r *reader) u16(field string) uint16 {
	p := r.take(2, field)
	if p == nil {
		return 0
	}
	return binary.BigEndian.Uint16(p)
}

func (r *reader) u32(field string) uint32 {
	p := r.take(4, field)
	if p == nil {
		return 0
	}
	return binary.BigEndian.Uint32(p)
}

func (r *reader) i64(field string) int64 {
	p := r.take(8, field)
	if p == nil {
		return 0
	}
	return int64(binary.BigEndian.Uint64(p))
}

func (r *reader) nonce(field string) Nonce {
	off := r.off
	n := Nonce(r.i64(field))
	if r.err == nil && n == 0 {
		r.fail(field, off, ErrZeroNonce)
	}
	return n
}

// text returns the next n bytes as a validated UTF-8 string (a copy).
func (r *reader) text(n int, field string) string {
	off := r.off
	p := r.take(n, field)
	if p == nil {
		return ""
	}
	if !utf8.Valid(p) {
		r.fail(field, off, ErrInvalidUTF8)
		return ""
	}
	return string(p)
}

// Field names are passed in full (e.g. "payload" and "payload.length") rather than
// concatenated here, so that decoding valid input allocates no strings.

func (r *reader) str8(field, lengthField string) string {
	return r.text(int(r.u8(lengthField)), field)
}

func (r *reader) str16(field, lengthField string) string {
	return r.text(int(r.u16(lengthField)), field)
}

// blob32 reads an int32 length and that many bytes, aliasing the input.
func (r *reader) blob32(field, lengthField string) []byte {
	off := r.off
	n := int32(r.u32(lengthField))
	if r.err != nil {
		return nil
	}
	if n < 0 {
		r.fail(lengthField, off, ErrInvalidLength)
		return nil
	}
	return r.take(int(n), field)
}

// leader reads the one-bit optional member id: a presence bit, then (if set) the uint16
// length and the UTF-8 bytes shifted right by one bit, then zero bits up to the byte
// boundary. The encoding of n bytes takes n+1 bytes on the wire.
func (r *reader) leader(field string) (MemberID, bool) {
	if r.err != nil {
		return "", false
	}
	start := r.off
	if r.left() < 1 {
		r.fail(field, start, ErrTruncated)
		return "", false
	}
	if r.b[start]&0x80 == 0 {
		if r.b[start] != 0 {
			r.fail(field+".padding", start, ErrNonZeroPadding)
			return "", false
		}
		r.off++
		return "", false
	}
	// unshift returns byte i of the unshifted encoding; the caller checked the bounds.
	unshift := func(i int) byte { return r.b[start+i]<<1 | r.b[start+i+1]>>7 }
	if r.left() < 3 {
		r.fail(field+".length", start, ErrTruncated)
		return "", false
	}
	n := int(unshift(0))<<8 | int(unshift(1))
	if r.left() < n+3 {
		r.fail(field, start, ErrTruncated)
		return "", false
	}
	if r.b[start+n+2]&0x7f != 0 {
		r.fail(field+".padding", start+n+2, ErrNonZeroPadding)
		return "", false
	}
	var sb strings.Builder
	sb.Grow(n)
	for i := 2; i < n+2; i++ {
		sb.WriteByte(unshift(i))
	}
	id := sb.String()
	if !utf8.ValidString(id) {
		r.fail(field, start, ErrInvalidUTF8)
		return "", false
	}
	r.off = start + n + 3
	return MemberID(id), true
}

// writer appends fields to a message; like reader, its first failure sticks.
type writer struct {
	b   []byte
	msg string
	err error
}

func (w *writer) fail(field string, err error) {
	if w.err == nil {
		w.err = &EncodeError{Message: w.msg, Field: field, Err: err}
	}
}

func (w *writer) u8(v uint8)   { w.b = append(w.b, v) }
func (w *writer) u16(v uint16) { w.b = binary.BigEndian.AppendUint16(w.b, v) }
func (w *writer) u32(v uint32) { w.b = binary.BigEndian.AppendUint32(w.b, v) }
func (w *writer) i64(v int64)  { w.b = binary.BigEndian.AppendUint64(w.b, uint64(v)) }

func (w *writer) nonce(field string, n Nonce) {
	if n == 0 {
		w.fail(field, ErrZeroNonce)
	}
	w.i64(int64(n))
}

// checkText reports whether s is valid UTF-8 no longer than max bytes.
func (w *writer) checkText(field, s string, max uint64) bool {
	if uint64(len(s)) > max {
		w.fail(field, ErrInvalidLength)
		return false
	}
	if !utf8.ValidString(s) {
		w.fail(field, ErrInvalidUTF8)
		return false
	}
	return true
}

func (w *writer) str8(field, s string) {
	if w.checkText(field, s, math.MaxUint8) {
		w.u8(uint8(len(s)))
		w.b = append(w.b, s...)
	}
}

func (w *writer) str16(field, s string) {
	if w.checkText(field, s, math.MaxUint16) {
		w.u16(uint16(len(s)))
		w.b = append(w.b, s...)
	}
}

func (w *writer) blob32(field string, p []byte) {
	if uint64(len(p)) > math.MaxInt32 {
		w.fail(field, ErrInvalidLength)
		return
	}
	w.u32(uint32(len(p)))
	w.b = append(w.b, p...)
}

func (w *writer) leader(field string, id MemberID, present bool) {
	if !present {
		w.u8(0)
		return
	}
	if !w.checkText(field, string(id), math.MaxUint16) {
		return
	}
	n := len(id)
	enc := func(i int) byte {
		switch i {
		case 0:
			return byte(n >> 8)
		case 1:
			return byte(n)
		}
		return id[i-2]
	}
	w.u8(0x80 | enc(0)>>1)
	for i := 1; i < n+2; i++ {
		w.u8(enc(i-1)<<7 | enc(i)>>1)
	}
	w.u8(enc(n+1) << 7)
}
