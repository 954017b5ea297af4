package protocol_test

import (
	"bytes"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/zraft/zraft/protocol"
)

// addSeeds adds every fixture, both zio-raft's and zraft's, to the corpus.
func addSeeds(f *testing.F) {
	for _, dir := range []string{"zio-raft-v1", "zraft-ext"} {
		files, err := filepath.Glob(filepath.Join("testdata", dir, "protocol", "*.hex"))
		if err != nil {
			f.Fatal(err)
		}
		for _, file := range files {
			f.Add(readHex(f, file))
		}
	}
}

// FuzzDecodeClientMessage: decoding never panics; whatever decodes re-encodes, the
// re-encoding decodes to the same value and is a fixed point; and a message without an
// extension block re-encodes to exactly its input (v1 has one encoding per value).
func FuzzDecodeClientMessage(f *testing.F) {
	addSeeds(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := protocol.DecodeClientMessage(b)
		if err != nil {
			return
		}
		enc, err := protocol.AppendClientMessage(nil, m)
		if err != nil {
			t.Fatalf("re-encoding %#v: %v", m, err)
		}
		m2, err := protocol.DecodeClientMessage(enc)
		if err != nil {
			t.Fatalf("decoding the re-encoding %x: %v", enc, err)
		}
		if !reflect.DeepEqual(m, m2) {
			t.Fatalf("decode(encode(decode(x))) = %#v, want %#v", m2, m)
		}
		enc2, err := protocol.AppendClientMessage(nil, m2)
		if err != nil || !bytes.Equal(enc, enc2) {
			t.Fatalf("encoding is not a fixed point: %x then %x (%v)", enc, enc2, err)
		}
		if m.Extensions() == nil && !bytes.Equal(enc, b) {
			t.Fatalf("v1 message %x re-encodes to %x", b, enc)
		}
	})
}

// FuzzDecodeServerMessage is FuzzDecodeClientMessage for the server→client direction.
func FuzzDecodeServerMessage(f *testing.F) {
	addSeeds(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := protocol.DecodeServerMessage(b)
		if err != nil {
			return
		}
		enc, err := protocol.AppendServerMessage(nil, m)
		if err != nil {
			t.Fatalf("re-encoding %#v: %v", m, err)
		}
		m2, err := protocol.DecodeServerMessage(enc)
		if err != nil {
			t.Fatalf("decoding the re-encoding %x: %v", enc, err)
		}
		if !reflect.DeepEqual(m, m2) {
			t.Fatalf("decode(encode(decode(x))) = %#v, want %#v", m2, m)
		}
		enc2, err := protocol.AppendServerMessage(nil, m2)
		if err != nil || !bytes.Equal(enc, enc2) {
			t.Fatalf("encoding is not a fixed point: %x then %x (%v)", enc, enc2, err)
		}
		if m.Extensions() == nil && !bytes.Equal(enc, b) {
			t.Fatalf("v1 message %x re-encodes to %x", b, enc)
		}
	})
}
