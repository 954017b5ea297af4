package kvwire_test

import (
	"bytes"
	"reflect"
	"testing"

	"github.com/zraft/zraft/protocol/kvwire"
)

// FuzzKVWire feeds the input to every kvwire decoder. None may panic, and whatever one
// accepts must re-encode to exactly the input: every kvwire payload has one encoding.
func FuzzKVWire(f *testing.F) {
	for _, p := range [][]string{
		{"zio-raft-v1", "kvstore", "Set.hex"}, {"zio-raft-v1", "kvstore", "Watch.hex"},
		{"zio-raft-v1", "kvstore", "Get.hex"}, {"zio-raft-v1", "kvstore", "Notification.hex"},
		{"zraft-ext", "kvstore", "Delete.hex"}, {"zraft-ext", "kvstore", "GetResultAbsent.hex"},
		{"zraft-ext", "kvstore", "GetResultPresent.hex"},
	} {
		f.Add(readHex(f, p...))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if c, err := kvwire.DecodeCommand(b); err == nil {
			out, err := kvwire.AppendCommand(nil, c)
			check(t, "command", b, out, err)
			again, err := kvwire.DecodeCommand(out)
			if err != nil || !reflect.DeepEqual(again, c) {
				t.Fatalf("command: decode(encode(%#v)) = %#v, %v", c, again, err)
			}
		}
		if g, err := kvwire.DecodeGet(b); err == nil {
			out, err := kvwire.AppendGet(nil, g)
			check(t, "get", b, out, err)
		}
		if n, err := kvwire.DecodeNotification(b); err == nil {
			out, err := kvwire.AppendNotification(nil, n)
			check(t, "notification", b, out, err)
		}
		if r, err := kvwire.DecodeGetResult(b); err == nil {
			out, err := kvwire.AppendGetResult(nil, r)
			check(t, "get result", b, out, err)
		}
	})
}

func check(t *testing.T, what string, in, out []byte, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: re-encoding a decoded value failed: %v", what, err)
	}
	if !bytes.Equal(in, out) {
		t.Fatalf("%s: encode(decode(%x)) = %x", what, in, out)
	}
}
