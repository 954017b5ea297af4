package kvwire_test

import (
	"bytes"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"testing"

	"github.com/zraft/zraft/protocol"
	"github.com/zraft/zraft/protocol/kvwire"
)

const (
	key   = "test-key"
	value = "test-value"
)

func readHex(tb testing.TB, parts ...string) []byte {
	tb.Helper()
	raw, err := os.ReadFile(filepath.Join(append([]string{"..", "testdata"}, parts...)...))
	if err != nil {
		tb.Fatal(err)
	}
	b, err := hex.DecodeString(strings.TrimSpace(string(raw)))
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

func TestCommandFixtures(t *testing.T) {
	cases := []struct {
		file []string
		cmd  kvwire.Command
	}{
		{[]string{"zio-raft-v1", "kvstore", "Set.hex"}, kvwire.Set{Key: key, Value: value}},
		{[]string{"zio-raft-v1", "kvstore", "Watch.hex"}, kvwire.Watch{Key: key}},
		{[]string{"zraft-ext", "kvstore", "Delete.hex"}, kvwire.Delete{Key: key}},
	}
	for _, c := range cases {
		want := readHex(t, c.file...)
		got, err := kvwire.AppendCommand(nil, c.cmd)
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("%s: encode got %x, %v; want %x", c.file[2], got, err, want)
		}
		dec, err := kvwire.DecodeCommand(want)
		if err != nil || !reflect.DeepEqual(dec, c.cmd) {
			t.Errorf("%s: decode got %#v, %v; want %#v", c.file[2], dec, err, c.cmd)
		}
	}
}

func TestGetFixture(t *testing.T) {
	want := readHex(t, "zio-raft-v1", "kvstore", "Get.hex")
	got, err := kvwire.AppendGet(nil, kvwire.Get{Key: key})
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("encode got %x, %v; want %x", got, err, want)
	}
	dec, err := kvwire.DecodeGet(want)
	if err != nil || dec != (kvwire.Get{Key: key}) {
		t.Fatalf("decode got %#v, %v", dec, err)
	}
}

func TestNotificationFixture(t *testing.T) {
	want := readHex(t, "zio-raft-v1", "kvstore", "Notification.hex")
	n := kvwire.Notification{Key: key, Value: value}
	got, err := kvwire.AppendNotification(nil, n)
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("encode got %x, %v; want %x", got, err, want)
	}
	dec, err := kvwire.DecodeNotification(want)
	if err != nil || dec != n {
		t.Fatalf("decode got %#v, %v", dec, err)
	}
}

func TestGetResultFixtures(t *testing.T) {
	for file, res := range map[string]kvwire.GetResult{
		"GetResultAbsent.hex":  {},
		"GetResultPresent.hex": {Value: value, Found: true},
	} {
		want := readHex(t, "zraft-ext", "kvstore", file)
		got, err := kvwire.AppendGetResult(nil, res)
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("%s: encode got %x, %v; want %x", file, got, err, want)
		}
		dec, err := kvwire.DecodeGetResult(want)
		if err != nil || dec != res {
			t.Errorf("%s: decode got %#v, %v", file, dec, err)
		}
	}
	// A present but empty value is distinct from absent.
	b, err := kvwire.AppendGetResult(nil, kvwire.GetResult{Found: true})
	if err != nil || !bytes.Equal(b, []byte{0xff, 0, 0, 0, 0}) {
		t.Fatalf("present empty: %x, %v", b, err)
	}
}

func TestEmptyResult(t *testing.T) {
	if err := kvwire.DecodeEmptyResult(nil); err != nil {
		t.Fatal(err)
	}
	if err := kvwire.DecodeEmptyResult([]byte{0}); !errors.Is(err, protocol.ErrTrailingBytes) {
		t.Fatalf("got %v", err)
	}
}

func TestDecodeErrors(t *testing.T) {
	cases := []struct {
		name  string
		in    string
		err   error
		field string
	}{
		{"empty", "", protocol.ErrTruncated, "code"},
		{"unknown code", "5800000000", protocol.ErrUnknownCode, "code"},
		{"short length", "53000000", protocol.ErrTruncated, "key.length"},
		{"negative length", "53ffffffff", protocol.ErrInvalidLength, "key.length"},
		{"length past end", "537fffffff6b", protocol.ErrTruncated, "key"},
		{"missing value", "5300000001" + "6b", protocol.ErrTruncated, "value.length"},
		{"bad utf8", "5700000001ff", protocol.ErrInvalidUTF8, "key"},
		{"trailing", "570000000000", protocol.ErrTrailingBytes, "end"},
	}
	for _, c := range cases {
		b, _ := hex.DecodeString(c.in)
		_, err := kvwire.DecodeCommand(b)
		var de *protocol.DecodeError
		if !errors.Is(err, c.err) || !errors.As(err, &de) || de.Field != c.field {
			t.Errorf("%s: got %v, want %v in field %s", c.name, err, c.err, c.field)
		}
	}
	for in, want := range map[string]error{"": protocol.ErrTruncated, "01": protocol.ErrInvalidValue,
		"0000": protocol.ErrTrailingBytes, "ff": protocol.ErrTruncated} {
		b, _ := hex.DecodeString(in)
		if _, err := kvwire.DecodeGetResult(b); !errors.Is(err, want) {
			t.Errorf("GetResult %q: got %v, want %v", in, err, want)
		}
	}
	if _, err := kvwire.DecodeGet(readHex(t, "zio-raft-v1", "kvstore", "Watch.hex")); !errors.Is(err, protocol.ErrUnknownCode) {
		t.Errorf("Get of a Watch: %v", err)
	}
	if _, err := kvwire.DecodeNotification(readHex(t, "zio-raft-v1", "kvstore", "Set.hex")); !errors.Is(err, protocol.ErrUnknownCode) {
		t.Errorf("Notification of a Set: %v", err)
	}
}

func TestEncodeErrors(t *testing.T) {
	if _, err := kvwire.AppendCommand(nil, kvwire.Set{Key: "\xff"}); !errors.Is(err, protocol.ErrInvalidUTF8) {
		t.Errorf("bad key: %v", err)
	}
	if _, err := kvwire.AppendCommand(nil, nil); !errors.Is(err, protocol.ErrNilMessage) {
		t.Errorf("nil: %v", err)
	}
	if _, err := kvwire.AppendCommand(nil, (*kvwire.Delete)(nil)); !errors.Is(err, protocol.ErrNilMessage) {
		t.Errorf("nil pointer: %v", err)
	}
	if b, err := kvwire.AppendCommand(nil, &kvwire.Watch{Key: key}); err != nil || !bytes.Equal(b, readHex(t, "zio-raft-v1", "kvstore", "Watch.hex")) {
		t.Errorf("pointer: %x, %v", b, err)
	}
	if _, err := kvwire.AppendGetResult(nil, kvwire.GetResult{Value: "x"}); !errors.Is(err, protocol.ErrInvalidValue) {
		t.Errorf("absent with value: %v", err)
	}
	dst := []byte("keep")
	out, err := kvwire.AppendNotification(dst, kvwire.Notification{Key: "k", Value: "\xc0"})
	if err == nil || string(out) != "keep" {
		t.Errorf("failed append changed dst: %q, %v", out, err)
	}
}

// TestHugeLengthFailsWithoutAllocating: a 2 GiB claim in a short payload costs nothing.
func TestHugeLengthFailsWithoutAllocating(t *testing.T) {
	b, _ := hex.DecodeString("537fffffff" + strings.Repeat("61", 15))
	decode := func() {
		if _, err := kvwire.DecodeCommand(b); !errors.Is(err, protocol.ErrTruncated) {
			t.Fatal(err)
		}
	}
	// The error value and the half-built command, nothing sized by the claim.
	if allocs := testing.AllocsPerRun(100, decode); allocs > 2 {
		t.Fatalf("%v allocations", allocs)
	}
	if n := bytesPerRun(100, decode); n > 1024 {
		t.Fatalf("%d bytes allocated per decode", n)
	}
}

// bytesPerRun returns the bytes allocated per call of f, averaged over runs.
func bytesPerRun(runs int, f func()) uint64 {
	var before, after runtime.MemStats
	f()
	runtime.GC()
	runtime.ReadMemStats(&before)
	for range runs {
		f()
	}
	runtime.ReadMemStats(&after)
	return (after.TotalAlloc - before.TotalAlloc) / uint64(runs)
}
