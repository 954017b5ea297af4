package pebblestore

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"math"
	"time"

	"github.com/hashicorp/raft"
)

// Entry format, version 1 (all integers unsigned LEB128 varints unless noted):
//
//	version   1 byte, = 1
//	index     uvarint
//	term      uvarint
//	type      1 byte (raft.LogType)
//	flags     1 byte; bit 0: AppendedAt is present; other bits must be zero
//	data      uvarint length, then the bytes
//	ext       uvarint length, then the bytes (raft.Log.Extensions)
//	[seconds  signed varint, Unix seconds of AppendedAt]   if flags bit 0
//	[nanos    uvarint, < 1e9]                              if flags bit 0
//	crc       4 bytes little-endian CRC-32C of everything before it
//
// Varints must be minimally encoded, so a valid entry has exactly one encoding
// and decode(encode(l)) re-encodes to the same bytes.
const (
	entryVersion1 = 1
	flagAppended  = 1 << 0
	crcLen        = 4
	// stableVersion1 prefixes a stable-store value: version byte, the value,
	// then the CRC-32C of both.
	stableVersion1 = 1
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// ErrCorrupt reports a stored entry or value that fails its checksum or does
// not parse: a torn or damaged record. It is never papered over; the caller
// gets it wrapped with the key involved.
var ErrCorrupt = errors.New("pebblestore: corrupt record")

// appendEntry appends the version-1 encoding of l to dst.
func appendEntry(dst []byte, l *raft.Log) []byte {
	start := len(dst)
	dst = append(dst, entryVersion1)
	dst = binary.AppendUvarint(dst, l.Index)
	dst = binary.AppendUvarint(dst, l.Term)
	var flags byte
	if !l.AppendedAt.IsZero() {
		flags |= flagAppended
	}
	dst = append(dst, byte(l.Type), flags)
	dst = binary.AppendUvarint(dst, uint64(len(l.Data)))
	dst = append(dst, l.Data...)
	dst = binary.AppendUvarint(dst, uint64(len(l.Extensions)))
	dst = append(dst, l.Extensions...)
	if flags&flagAppended != 0 {
		dst = binary.AppendVarint(dst, l.AppendedAt.Unix())
		dst = binary.AppendUvarint(dst, uint64(l.AppendedAt.Nanosecond()))
	}
	return binary.LittleEndian.AppendUint32(dst, crc32.Checksum(dst[start:], castagnoli))
}

// decodeEntry parses b into l. The byte slices in l are fresh copies (b may
// be Pebble-owned memory). Nothing is allocated before the bytes it describes
// have been seen to be present.
func decodeEntry(b []byte, l *raft.Log) error {
	body, err := checkCRC(b)
	if err != nil {
		return err
	}
	r := reader{b: body}
	if v := r.byte(); v != entryVersion1 {
		if r.err != nil {
			return r.err
		}
		return fmt.Errorf("%w: unknown entry version %d", ErrCorrupt, v)
	}
	index := r.uvarint()
	term := r.uvarint()
	typ := r.byte()
	flags := r.byte()
	data := r.bytes()
	ext := r.bytes()
	var at time.Time
	if r.err == nil && flags&^flagAppended != 0 {
		return fmt.Errorf("%w: unknown entry flags %#x", ErrCorrupt, flags)
	}
	if flags&flagAppended != 0 {
		sec := r.varint()
		nsec := r.uvarint()
		if r.err == nil && nsec >= 1e9 {
			return fmt.Errorf("%w: nanoseconds %d out of range", ErrCorrupt, nsec)
		}
		at = time.Unix(sec, int64(nsec))
		// Reject what would not re-encode to the same bytes: the zero time
		// (encoded without the flag) and seconds outside time.Time's range.
		if r.err == nil && (at.IsZero() || at.Unix() != sec) {
			return fmt.Errorf("%w: AppendedAt %d.%09d out of range", ErrCorrupt, sec, nsec)
		}
	}
	if r.err != nil {
		return r.err
	}
	if len(r.b) != 0 {
		return fmt.Errorf("%w: %d trailing bytes", ErrCorrupt, len(r.b))
	}
	*l = raft.Log{
		Index:      index,
		Term:       term,
		Type:       raft.LogType(typ),
		Data:       clone(data),
		Extensions: clone(ext),
		AppendedAt: at,
	}
	return nil
}

// appendStable appends the encoding of a stable-store value to dst.
func appendStable(dst, val []byte) []byte {
	start := len(dst)
	dst = append(dst, stableVersion1)
	dst = append(dst, val...)
	return binary.LittleEndian.AppendUint32(dst, crc32.Checksum(dst[start:], castagnoli))
}

// decodeStable returns a copy of the value held in an encoded stable value.
func decodeStable(b []byte) ([]byte, error) {
	body, err := checkCRC(b)
	if err != nil {
		return nil, err
	}
	if len(body) == 0 || body[0] != stableVersion1 {
		return nil, fmt.Errorf("%w: unknown stable value version", ErrCorrupt)
	}
	out := make([]byte, len(body)-1)
	copy(out, body[1:])
	return out, nil
}

// checkCRC verifies the trailing CRC-32C and returns the bytes it covers.
func checkCRC(b []byte) ([]byte, error) {
	if len(b) < 1+crcLen {
		return nil, fmt.Errorf("%w: %d bytes is too short", ErrCorrupt, len(b))
	}
	body, sum := b[:len(b)-crcLen], binary.LittleEndian.Uint32(b[len(b)-crcLen:])
	if got := crc32.Checksum(body, castagnoli); got != sum {
		return nil, fmt.Errorf("%w: checksum %#08x, want %#08x", ErrCorrupt, got, sum)
	}
	return body, nil
}

func clone(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	out := make([]byte, len(b))
	copy(out, b)
	return out
}

// reader is a cursor over a byte slice that records the first error and
// returns zero values after it, so decoders read straight through and check once.
type reader struct {
	b   []byte
	err error
}

func (r *reader) fail(format string, args ...any) {
	if r.err == nil {
		r.err = fmt.Errorf("%w: "+format, append([]any{ErrCorrupt}, args...)...)
	}
}

func (r *reader) byte() byte {
	if r.err != nil {
		return 0
	}
	if len(r.b) < 1 {
		r.fail("truncated")
		return 0
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c
}

func (r *reader) uvarint() uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.fail("bad varint")
		return 0
	}
	if n > 1 && r.b[n-1] == 0 {
		r.fail("non-minimal varint")
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) varint() int64 {
	u := r.uvarint()
	// Zig-zag, as binary.AppendVarint writes it.
	x := int64(u >> 1)
	if u&1 != 0 {
		x = ^x
	}
	return x
}

// bytes reads a length-prefixed byte string, returning a view into r.b. The
// length is checked against what is present before anything is sliced.
func (r *reader) bytes() []byte {
	n := r.uvarint()
	if r.err != nil {
		return nil
	}
	if n > uint64(len(r.b)) || n > math.MaxInt {
		r.fail("length %d exceeds the %d bytes left", n, len(r.b))
		return nil
	}
	v := r.b[:n]
	r.b = r.b[n:]
	return v
}
