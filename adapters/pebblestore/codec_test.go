package pebblestore

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"math"
	"testing"
	"time"

	"github.com/hashicorp/raft"
)

func TestEntryRoundTrip(t *testing.T) {
	cases := []*raft.Log{
		{},
		{Index: 1, Term: 1, Type: raft.LogCommand, Data: []byte("x")},
		{Index: math.MaxUint64, Term: math.MaxUint64, Type: raft.LogType(255), Data: []byte{0}, Extensions: []byte{1, 2}},
		{Index: 7, Term: 2, AppendedAt: time.Date(1969, 12, 31, 23, 59, 59, 999999999, time.UTC)},
		{Index: 8, Term: 2, AppendedAt: time.Date(9999, 1, 1, 0, 0, 0, 1, time.UTC)},
		{Index: 9, Term: 2, AppendedAt: time.Date(1, 1, 1, 0, 0, 0, 1, time.UTC)},
	}
	for _, in := range cases {
		enc := appendEntry(nil, in)
		var out raft.Log
		if err := decodeEntry(enc, &out); err != nil {
			t.Fatalf("decode(encode(%+v)): %v", in, err)
		}
		if !sameLog(&out, in) {
			t.Fatalf("round trip of %+v gave %+v", in, out)
		}
		if again := appendEntry(nil, &out); !bytes.Equal(again, enc) {
			t.Fatalf("re-encoding %+v changed the bytes", in)
		}
	}
}

func TestEntryFormatIsStable(t *testing.T) {
	// A fixed encoding: changing the format must be a new version, not an
	// accident that makes old stores unreadable.
	l := &raft.Log{Index: 300, Term: 2, Type: raft.LogCommand, Data: []byte("ab"), Extensions: []byte{9},
		AppendedAt: time.Unix(1, 5)}
	want := []byte{1, 0xac, 0x02, 2, 0, 1, 2, 'a', 'b', 1, 9, 2, 5}
	want = binary.LittleEndian.AppendUint32(want, crc32.Checksum(want, castagnoli))
	if got := appendEntry(nil, l); !bytes.Equal(got, want) {
		t.Fatalf("encoding = %x, want %x", got, want)
	}
}

func TestDecodeEntryRejects(t *testing.T) {
	valid := appendEntry(nil, &raft.Log{Index: 5, Term: 1, Data: []byte("hello"), AppendedAt: time.Unix(10, 0)})
	body := valid[:len(valid)-crcLen]
	withCRC := func(b []byte) []byte {
		return binary.LittleEndian.AppendUint32(append([]byte(nil), b...), crc32.Checksum(b, castagnoli))
	}
	cases := map[string][]byte{
		"empty":             nil,
		"short":             {1, 2, 3},
		"every truncation":  nil, // checked below
		"bad crc":           append(append([]byte(nil), body...), 0, 0, 0, 0),
		"unknown version":   withCRC(append([]byte{2}, body[1:]...)),
		"trailing byte":     withCRC(append(append([]byte(nil), body...), 0)),
		"length past end":   withCRC([]byte{1, 5, 1, 0, 0, 100, 'x'}),
		"unknown flag":      withCRC([]byte{1, 5, 1, 0, 2, 0, 0}),
		"non-minimal index": withCRC([]byte{1, 0x85, 0x00, 1, 0, 0, 0, 0}),
		"nanos too big":     withCRC(binary.AppendUvarint([]byte{1, 5, 1, 0, 1, 0, 0, 0}, 1e9)),
		"zero time flagged": withCRC(binary.AppendUvarint(binary.AppendVarint([]byte{1, 5, 1, 0, 1, 0, 0}, time.Time{}.Unix()), 0)),
		"huge varint":       withCRC([]byte{1, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}),
	}
	for name, b := range cases {
		if name == "every truncation" {
			continue
		}
		var l raft.Log
		if err := decodeEntry(b, &l); !errors.Is(err, ErrCorrupt) {
			t.Errorf("%s: decode = %v, want ErrCorrupt", name, err)
		}
	}
	for n := range len(valid) {
		var l raft.Log
		if err := decodeEntry(valid[:n], &l); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("decode of the first %d of %d bytes = %v, want ErrCorrupt", n, len(valid), err)
		}
	}
	for i := range len(valid) * 8 {
		flipped := append([]byte(nil), valid...)
		flipped[i/8] ^= 1 << (i % 8)
		var l raft.Log
		if err := decodeEntry(flipped, &l); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("decode with bit %d flipped = %v, want ErrCorrupt", i, err)
		}
	}
}

func TestDecodeCopiesBytes(t *testing.T) {
	enc := appendEntry(nil, &raft.Log{Index: 1, Data: []byte("data"), Extensions: []byte("ext")})
	var l raft.Log
	if err := decodeEntry(enc, &l); err != nil {
		t.Fatal(err)
	}
	for i := range enc {
		enc[i] = 0
	}
	if string(l.Data) != "data" || string(l.Extensions) != "ext" {
		t.Fatalf("decoded entry aliases its input: %q %q", l.Data, l.Extensions)
	}
}

func TestStableRoundTrip(t *testing.T) {
	for _, v := range [][]byte{{}, {0}, []byte("value")} {
		got, err := decodeStable(appendStable(nil, v))
		if err != nil || !bytes.Equal(got, v) {
			t.Fatalf("stable round trip of %q = %q, %v", v, got, err)
		}
	}
	enc := appendStable(nil, []byte("value"))
	for n := range len(enc) {
		if _, err := decodeStable(enc[:n]); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("decodeStable of %d of %d bytes = %v", n, len(enc), err)
		}
	}
}

// FuzzDecodeEntry feeds arbitrary bytes to the entry decoder, both as they are
// and with a valid checksum appended so the parser behind the checksum is
// reached. It must never panic, must only accept canonical encodings, and
// must not allocate more than the input holds.
func FuzzDecodeEntry(f *testing.F) {
	f.Add(appendEntry(nil, &raft.Log{Index: 1, Term: 1, Data: []byte("x")}))
	f.Add(appendEntry(nil, &raft.Log{Index: 1 << 40, Term: 9, Type: raft.LogConfiguration, Extensions: []byte{1}, AppendedAt: time.Unix(1_700_000_000, 5)}))
	f.Add([]byte{1, 1, 1, 0, 0, 0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, in := range [][]byte{b, binary.LittleEndian.AppendUint32(append([]byte(nil), b...), crc32.Checksum(b, castagnoli))} {
			var l raft.Log
			if err := decodeEntry(in, &l); err != nil {
				if !errors.Is(err, ErrCorrupt) {
					t.Fatalf("decode error %v does not wrap ErrCorrupt", err)
				}
				continue
			}
			if len(l.Data)+len(l.Extensions) > len(in) {
				t.Fatalf("decoded %d bytes of payload from %d bytes", len(l.Data)+len(l.Extensions), len(in))
			}
			if again := appendEntry(nil, &l); !bytes.Equal(again, in) {
				t.Fatalf("accepted a non-canonical encoding:\n in %x\nout %x", in, again)
			}
		}
	})
}

// FuzzEntryRoundTrip checks that every raft.Log survives encode and decode.
func FuzzEntryRoundTrip(f *testing.F) {
	f.Add(uint64(1), uint64(1), uint8(0), []byte("data"), []byte(nil), true, int64(1_700_000_000), uint32(5))
	f.Add(uint64(math.MaxUint64), uint64(0), uint8(255), []byte(nil), []byte{0}, false, int64(0), uint32(0))
	f.Fuzz(func(t *testing.T, index, term uint64, typ uint8, data, ext []byte, timed bool, sec int64, nsec uint32) {
		in := &raft.Log{Index: index, Term: term, Type: raft.LogType(typ), Data: data, Extensions: ext}
		if timed {
			// time.Time spans ±292 billion years; stay well inside it.
			in.AppendedAt = time.Unix(sec%(1<<50), int64(nsec%1e9))
		}
		enc := appendEntry(nil, in)
		var out raft.Log
		if err := decodeEntry(enc, &out); err != nil {
			t.Fatalf("decode(encode(%+v)): %v", in, err)
		}
		if !sameLog(&out, in) {
			t.Fatalf("round trip of %+v gave %+v", in, out)
		}
	})
}

// FuzzDecodeStable feeds arbitrary bytes to the stable value decoder.
func FuzzDecodeStable(f *testing.F) {
	f.Add(appendStable(nil, []byte("v")))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, in := range [][]byte{b, binary.LittleEndian.AppendUint32(append([]byte(nil), b...), crc32.Checksum(b, castagnoli))} {
			v, err := decodeStable(in)
			if err != nil {
				if !errors.Is(err, ErrCorrupt) {
					t.Fatalf("decode error %v does not wrap ErrCorrupt", err)
				}
				continue
			}
			if !bytes.Equal(appendStable(nil, v), in) {
				t.Fatalf("stable value %x did not re-encode to itself", in)
			}
		}
	})
}
