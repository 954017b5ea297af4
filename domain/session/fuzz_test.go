package session_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"reflect"
	"runtime"
	"testing"

	"github.com/zraft/zraft/domain/session"
)

// sampleCommands covers every command kind, for seeds and round trips.
func sampleCommands() []session.Command {
	return []session.Command{
		session.CreateSession{At: 1705680000000, ID: "test-session-123", Capabilities: []session.Capability{{Key: "capability1", Value: "value1"}, {Key: "capability2", Value: "value2"}}},
		session.CreateSession{At: -5, ID: ""},
		session.ClientRequest{At: 1705680000001, Session: "test-session-123", RequestID: 100, LowestPending: 100, Payload: []byte("test-payload")},
		session.ClientRequest{At: 0, Session: "s", RequestID: 1<<64 - 2, LowestPending: 0},
		session.Touch{At: 7, Sessions: []string{"a", "b", ""}},
		session.Acks{At: 8, Acks: []session.Ack{{Session: "a", UpTo: 3}, {Session: "b", UpTo: 1 << 40}}},
		session.CloseSession{At: 9, Session: "a"},
		session.LeaderStarted{At: 10, Term: 7},
		session.Redelivery{At: -1 << 63},
		session.Internal{At: 1<<63 - 1, Payload: []byte{0, 1, 2}},
		session.Batch{Commands: []session.Command{session.Touch{At: 1}, session.Redelivery{At: 2}, session.Internal{At: 3, Payload: []byte("tick")}}},
	}
}

func FuzzDecodeCommand(f *testing.F) {
	for _, c := range sampleCommands() {
		b, err := session.EncodeCommand(nil, c)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte{})
	f.Add([]byte{1, 9, 0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Fuzz(func(t *testing.T, b []byte) {
		cmd, err := session.DecodeCommand(b)
		if err != nil {
			if !errors.Is(err, session.ErrMalformed) {
				t.Fatalf("error %v does not wrap ErrMalformed", err)
			}
			return
		}
		// Decoding accepts only canonical encodings: re-encoding gives the same bytes.
		again, err := session.EncodeCommand(nil, cmd)
		if err != nil {
			t.Fatalf("decoded %#v does not encode: %v", cmd, err)
		}
		if !bytes.Equal(again, b) {
			t.Fatalf("re-encoding differs:\n in  %x\n out %x", b, again)
		}
	})
}

func TestCommandRoundTrip(t *testing.T) {
	for _, c := range sampleCommands() {
		b, err := session.EncodeCommand([]byte("prefix"), c)
		if err != nil {
			t.Fatal(err)
		}
		got, err := session.DecodeCommand(b[len("prefix"):])
		if err != nil {
			t.Fatalf("%#v: %v", c, err)
		}
		if !reflect.DeepEqual(got, c) {
			t.Fatalf("round trip:\n in  %#v\n out %#v", c, got)
		}
	}
	for _, bad := range []session.Command{nil, session.Batch{}, session.Batch{Commands: []session.Command{session.Batch{Commands: []session.Command{session.Redelivery{}}}}}, session.Batch{Commands: []session.Command{nil}}, &session.Touch{}, session.Batch{Commands: []session.Command{&session.Redelivery{}}}} {
		if _, err := session.EncodeCommand(nil, bad); !errors.Is(err, session.ErrInvalidCommand) {
			t.Errorf("EncodeCommand(%#v) = %v, want ErrInvalidCommand", bad, err)
		}
	}
}

func TestDecodeRejects(t *testing.T) {
	valid, _ := session.EncodeCommand(nil, session.Touch{At: 1, Sessions: []string{"abc"}})
	cases := map[string][]byte{
		"empty":           {},
		"version":         {2, 7, 2},
		"kind":            {1, 77, 2},
		"truncated":       valid[:len(valid)-1],
		"trailing":        append(append([]byte{}, valid...), 0),
		"non-minimal":     {1, 7, 0x82, 0x00},
		"huge count":      {1, 3, 2, 0xff, 0xff, 0xff, 0xff, 0x0f},
		"huge length":     {1, 5, 2, 0xff, 0xff, 0xff, 0xff, 0x0f, 'a'},
		"nested batch":    {1, 9, 1, 9, 1, 7, 0},
		"empty batch":     {1, 9, 0},
		"varint overflow": {1, 7, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01},
		"version only":    {1},
	}
	for name, b := range cases {
		if _, err := session.DecodeCommand(b); !errors.Is(err, session.ErrMalformed) {
			t.Errorf("%s: DecodeCommand(%x) = %v, want ErrMalformed", name, b, err)
		}
	}
}

// TestDecodeDoesNotOverAllocate: a count that claims more elements than the bytes left is
// refused before anything is allocated for it.
func TestDecodeDoesNotOverAllocate(t *testing.T) {
	b := binary.AppendUvarint([]byte{1, 3, 2}, 1<<40)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	const runs = 100
	for range runs {
		if _, err := session.DecodeCommand(b); err == nil {
			t.Fatal("accepted")
		}
	}
	runtime.ReadMemStats(&after)
	if perRun := (after.TotalAlloc - before.TotalAlloc) / runs; perRun > 1024 {
		t.Fatalf("%d bytes allocated per refused count", perRun)
	}
}

// FuzzMachine interprets its input as a program of commands over a few sessions and
// checks, after every step, the machine's invariants; at the end, that a snapshot
// restores to the same bytes and that a second machine fed the same log agrees.
func FuzzMachine(f *testing.F) {
	f.Add([]byte{0, 1, 0, 1, 1, 1, 2, 1, 3, 0, 9, 200, 5, 1, 4, 0})
	f.Add([]byte{0, 0, 0, 1, 0, 2, 1, 0, 1, 1, 0, 3, 1, 0, 3, 6, 9, 7, 0, 8, 0, 4, 0, 5})
	f.Add([]byte("\x00\x00\x00\x01\x01\x07\x0a\xff\x0b\x02\x07\x0a\xff\x0c"))
	f.Fuzz(func(t *testing.T, prog []byte) {
		cfg := session.Config{SessionTimeout: 1000, LeaderGrace: 300, MaxCachedResponses: 3, MaxPendingRequests: 2, RedeliveryBase: 50, RedeliveryMax: 300}
		a, b := session.New(cfg, newCounterApp()), session.New(cfg, newCounterApp())
		var (
			now   int64
			index uint64
		)
		r := progReader{b: prog}
		for steps := 0; r.more() && steps < 300; steps++ {
			if r.next()%16 == 15 {
				// Snapshot and restore b midway: it must keep agreeing with a.
				nb := session.New(cfg, newCounterApp())
				if err := nb.Restore(b.AppendSnapshot(nil)); err != nil {
					t.Fatalf("restore: %v", err)
				}
				b = nb
				continue
			}
			var cmd session.Command
			if r.next()%8 == 7 {
				batch := session.Batch{}
				for range 1 + int(r.next()%4) {
					batch.Commands = append(batch.Commands, fuzzCommand(&r, &now))
				}
				cmd = batch
			} else {
				cmd = fuzzCommand(&r, &now)
			}
			index += 1 + uint64(r.next()%3)
			entry, err := session.EncodeCommand(nil, cmd)
			if err != nil {
				t.Fatal(err)
			}
			ra, err := a.Apply(index, cmd)
			if err != nil {
				t.Fatal(err)
			}
			rb, err := b.ApplyEntry(index, entry)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(ra, rb) {
				t.Fatalf("step %d: machines disagree:\n %v\n %v", steps, ra, rb)
			}
			if err := errors.Join(a.CheckInvariants(), a.CheckExpired()); err != nil {
				t.Fatalf("step %d (%#v): %v", steps, cmd, err)
			}
		}
		snap := a.AppendSnapshot(nil)
		if !bytes.Equal(snap, b.AppendSnapshot(nil)) {
			t.Fatal("snapshots differ")
		}
		c := session.New(cfg, newCounterApp())
		if err := c.Restore(snap); err != nil {
			t.Fatal(err)
		}
		if err := c.CheckInvariants(); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(snap, c.AppendSnapshot(nil)) {
			t.Fatal("restored snapshot differs")
		}
	})
}

type progReader struct{ b []byte }

func (r *progReader) more() bool { return len(r.b) > 0 }

func (r *progReader) next() byte {
	if len(r.b) == 0 {
		return 0
	}
	v := r.b[0]
	r.b = r.b[1:]
	return v
}

func fuzzCommand(r *progReader, now *int64) session.Command {
	op := r.next() % 10
	// Time moves by small steps, sometimes far (expiry), sometimes back (old leader).
	switch d := r.next(); {
	case d == 255:
		*now += 5000
	case d >= 250:
		*now -= int64(d - 240)
	default:
		*now += int64(d)
	}
	at := *now
	sid := func() string { return fmt.Sprintf("s%d", r.next()%4) }
	switch op {
	case 0:
		caps := []session.Capability{{Key: "role", Value: []string{"worker", "client", "watch"}[r.next()%3]}}
		switch r.next() % 4 {
		case 1:
			caps = append(caps, session.Capability{Key: "watch", Value: "yes"})
		case 2:
			caps = append(caps, session.Capability{Key: "reject", Value: "no"})
		case 3:
			caps = append(caps, session.Capability{Key: "greet", Value: "yes"}, session.Capability{Key: "role", Value: "x"})
		}
		return session.CreateSession{At: at, ID: sid(), Capabilities: caps}
	case 1, 2, 3:
		s := sid()
		id := uint64(r.next() % 16)
		if id == 15 {
			id = 1<<64 - 1
		}
		k := uint64(r.next() % 16)
		payloads := []string{"inc a", "inc b", "fail x", "push role=worker j", "broadcast role=worker b", "notify s1 n", "get a", "bogus"}
		return session.ClientRequest{At: at, Session: s, RequestID: id, LowestPending: k, Payload: []byte(payloads[r.next()%8])}
	case 4:
		return session.Touch{At: at, Sessions: []string{sid(), sid()}}
	case 5:
		return session.Acks{At: at, Acks: []session.Ack{{Session: sid(), UpTo: uint64(r.next() % 8)}}}
	case 6:
		return session.CloseSession{At: at, Session: sid()}
	case 7:
		return session.LeaderStarted{At: at, Term: uint64(r.next())}
	case 8:
		return session.Redelivery{At: at}
	default:
		return session.Internal{At: at, Payload: []byte([]string{"tick", "tock"}[r.next()%2])}
	}
}

// FuzzRestore feeds arbitrary snapshot bodies (with a valid checksum appended, so that
// the structure is what gets fuzzed) to Restore: it never panics, a failure leaves the
// machine as it was, and whatever it accepts satisfies the invariants and re-encodes to
// the same bytes.
func FuzzRestore(f *testing.F) {
	cfg := session.Config{SessionTimeout: 1000, MaxCachedResponses: 3, MaxPendingRequests: 2}
	seed := session.New(cfg, newCounterApp())
	for i, c := range sampleCommands() {
		_, _ = seed.Apply(uint64(i+1), c)
	}
	for _, c := range []session.Command{
		session.CreateSession{At: 5000, ID: "w1", Capabilities: []session.Capability{{Key: "role", Value: "worker"}}},
		session.CreateSession{At: 5000, ID: "w2", Capabilities: []session.Capability{{Key: "role", Value: "worker"}, {Key: "greet", Value: "yes"}}},
		session.ClientRequest{At: 5001, Session: "w1", RequestID: 1, LowestPending: 1, Payload: []byte("push role=worker x")},
		session.ClientRequest{At: 5002, Session: "w1", RequestID: 2, LowestPending: 1, Payload: []byte("fail y")},
		session.Redelivery{At: 5100},
	} {
		_, _ = seed.Apply(seed.LastIndex()+1, c)
	}
	full := seed.AppendSnapshot(nil)
	f.Add(full[:len(full)-4])
	// A richer state: the property test's stream, with rotation cursors, queues, caches.
	rich := session.New(cfg, newCounterApp())
	gen := newStreamGen(7, 6)
	for i := range 150 {
		res, _ := rich.Apply(uint64(i+1), gen.next())
		gen.observe(res)
	}
	full = rich.AppendSnapshot(nil)
	f.Add(full[:len(full)-4])
	f.Add([]byte("ZRSM\x01"))
	f.Fuzz(func(t *testing.T, body []byte) {
		snap := binary.BigEndian.AppendUint32(bytes.Clone(body), crc32.Checksum(body, crc32.MakeTable(crc32.Castagnoli)))
		m := session.New(cfg, newCounterApp())
		_, _ = m.Apply(1, session.CreateSession{At: 1, ID: "before"})
		before := m.AppendSnapshot(nil)
		if err := m.Restore(snap); err != nil {
			if !bytes.Equal(before, m.AppendSnapshot(nil)) {
				t.Fatalf("a failed restore (%v) changed the machine", err)
			}
			return
		}
		if err := m.CheckInvariants(); err != nil {
			t.Fatalf("restored state breaks an invariant: %v", err)
		}
		if !bytes.Equal(snap, m.AppendSnapshot(nil)) {
			t.Fatal("accepted snapshot does not re-encode to the same bytes")
		}
		// And the restored machine keeps working.
		if _, err := m.Apply(m.LastIndex()+1, session.Batch{Commands: []session.Command{
			session.Redelivery{At: m.Now() + 1},
			session.Touch{At: m.Now() + 2, Sessions: []string{"w1"}},
			session.ClientRequest{At: m.Now() + 3, Session: "w1", RequestID: 3, LowestPending: 3, Payload: []byte("inc z")},
			session.CloseSession{At: m.Now() + 4, Session: "w2"},
		}}); err != nil && !errors.Is(err, session.ErrIndexOrder) {
			t.Fatal(err)
		}
		if err := m.CheckInvariants(); err != nil {
			t.Fatalf("after restore and apply: %v", err)
		}
	})
}
