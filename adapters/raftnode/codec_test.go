package raftnode

import (
	"bytes"
	"errors"
	"io"
	"log/slog"
	"reflect"
	"testing"

	"github.com/hashicorp/raft"
)

func TestMembersEntryRoundTrip(t *testing.T) {
	e := membersEntry{endpoints: []Member{{ID: "a", ClientEndpoint: "tcp://a:1"}, {ID: "b"}}}
	b := encodeMembers(e)
	if b[0] != kindMembers {
		t.Fatal(b)
	}
	got, err := decodeMembers(b[1:])
	if err != nil || !reflect.DeepEqual(got, e) {
		t.Fatalf("%+v %v", got, err)
	}
	for i := 1; i < len(b); i++ {
		if _, err := decodeMembers(b[1:i]); !errors.Is(err, ErrCorruptEntry) {
			t.Fatalf("truncated to %d: %v", i, err)
		}
	}
}

func TestSnapshotHeaderRoundTrip(t *testing.T) {
	h := snapshotHeader{applied: 42, endpoints: map[string]string{"a": "tcp://a", "b": ""}, voters: map[string]string{"a": "127.0.0.1:1"}}
	var buf bytes.Buffer
	if err := writeSnapshotHeader(&buf, h); err != nil {
		t.Fatal(err)
	}
	buf.WriteString("state")
	full := buf.Bytes()
	got, rest, err := readSnapshotHeader(bytes.NewReader(full))
	if err != nil || !reflect.DeepEqual(got, h) {
		t.Fatalf("%+v %v", got, err)
	}
	if b, _ := io.ReadAll(rest); string(b) != "state" {
		t.Fatalf("rest %q", b)
	}
	// Deterministic bytes for equal state.
	var again bytes.Buffer
	_ = writeSnapshotHeader(&again, h)
	if !bytes.HasPrefix(full, again.Bytes()) {
		t.Fatal("header bytes differ")
	}
	for i := 0; i < len(full)-len("state"); i++ {
		if _, _, err := readSnapshotHeader(bytes.NewReader(full[:i])); !errors.Is(err, ErrCorruptEntry) {
			t.Fatalf("truncated to %d: %v", i, err)
		}
	}
}

func FuzzDecodeMembers(f *testing.F) {
	f.Add(encodeMembers(membersEntry{endpoints: []Member{{ID: "a", ClientEndpoint: "tcp://a:1"}}})[1:])
	f.Add([]byte{0xff, 0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := decodeMembers(b)
		if err != nil {
			return
		}
		// Whatever decodes re-encodes to the same bytes.
		if again := encodeMembers(e)[1:]; !bytes.Equal(again, b) {
			t.Fatalf("re-encoded %x != %x", again, b)
		}
	})
}

func FuzzReadSnapshotHeader(f *testing.F) {
	var buf bytes.Buffer
	_ = writeSnapshotHeader(&buf, snapshotHeader{applied: 7, endpoints: map[string]string{"a": "x"}, voters: map[string]string{"a": "y"}})
	f.Add(buf.Bytes())
	f.Add([]byte("zrn1\x00\x00\x00\x00\x00\x00\x00\x01\xff\xff\xff\xff"))
	f.Fuzz(func(t *testing.T, b []byte) {
		h, rest, err := readSnapshotHeader(bytes.NewReader(b))
		if err != nil {
			return
		}
		tail, _ := io.ReadAll(rest)
		var out bytes.Buffer
		_ = writeSnapshotHeader(&out, h)
		if out.Len()+len(tail) > len(b) {
			t.Fatalf("decoded more than the input held")
		}
	})
}

// FuzzApplyEntry feeds arbitrary entry bytes to the FSM: malformed framing is an error
// result for that entry, never a panic, and the applied index still advances.
func FuzzApplyEntry(f *testing.F) {
	f.Add(encodeCommand([]byte("x")))
	f.Add(encodeTagged(proposalTag{1, 2}, encodeMembers(membersEntry{endpoints: []Member{{ID: "a", ClientEndpoint: "b"}}})))
	f.Add([]byte{kindTagged, 0, 1})
	f.Fuzz(func(t *testing.T, b []byte) {
		fsm := newFSM(nopSM{}, slog.New(slog.NewTextHandler(io.Discard, nil)))
		var delivered int
		fsm.onResult = func(proposalTag, any) { delivered++ }
		out := fsm.ApplyBatch([]*raft.Log{{Index: 7, Term: 1, Type: raft.LogCommand, Data: b}})
		if len(out) != 1 {
			t.Fatal(out)
		}
		if applied, _ := fsm.appliedIndex(); applied != 7 {
			t.Fatalf("applied %d", applied)
		}
		if delivered > 1 {
			t.Fatalf("%d deliveries", delivered)
		}
	})
}
