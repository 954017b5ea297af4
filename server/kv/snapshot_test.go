package kv_test

import (
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"reflect"
	"testing"

	"github.com/zraft/zraft/domain/session"
	"github.com/zraft/zraft/protocol/kvwire"
	"github.com/zraft/zraft/server/kv"
)

// goldenState builds, through a machine, the small state that docs/kv.md shows encoded:
// keys a="1" and b="", watchers s1 and s2 on a, and s2 missing a's latest change.
func goldenState(t testing.TB) *harness {
	h := newHarness(t, session.Config{MaxPendingRequests: 1})
	h.create("s1")
	h.create("s2")
	h.set("s1", "a", "0")
	h.set("s1", "b", "")
	h.watch("s1", "a")
	h.watch("s2", "a")
	h.ack("s1", 1)
	h.set("s1", "a", "1") // s1 has room, s2 is full
	return h
}

const goldenHex = "5a524b5601" + // "ZRKV", version 1
	"01" + // overflows: 1
	"02" + "0161" + "0131" + "0162" + "00" + // 2 keys: a="1", b=""
	"01" + "0161" + "02" + "027331" + "027332" + // 1 watched key: a by s1, s2
	"01" + "027332" + "01" + "0161" // 1 lagging session: s2 misses a

func TestSnapshotGolden(t *testing.T) {
	h := goldenState(t)
	got := h.app.AppendSnapshot(nil)
	if hex.EncodeToString(got) != goldenHex {
		t.Fatalf("snapshot\n got %x\nwant %s", got, goldenHex)
	}
	want, _ := hex.DecodeString(goldenHex)
	a := kv.New()
	if err := a.Restore(want); err != nil {
		t.Fatal(err)
	}
	if st := a.Stats(); st != (kv.Stats{Keys: 2, WatchedKeys: 1, Watches: 2, LaggingSessions: 1, Missed: 1, Overflows: 1}) {
		t.Fatalf("restored stats %+v", st)
	}
	if v, ok := a.Get("a"); !ok || v != "1" {
		t.Fatalf("restored a = %q, %v", v, ok)
	}
	mustEqualBytes(t, "re-encoded", a.AppendSnapshot(nil), want)
	mustEqualBytes(t, "empty", kv.New().AppendSnapshot(nil), []byte("ZRKV\x01\x00\x00\x00\x00"))
}

// restoredCopy returns a fresh harness whose machine (and app) restored h's snapshot and
// whose clocks and request ids continue where h's stop.
func restoredCopy(t testing.TB, h *harness, cfg session.Config) *harness {
	t.Helper()
	c := newHarness(t, cfg)
	if err := c.m.Restore(h.snapshot()); err != nil {
		t.Fatalf("restore: %v", err)
	}
	c.index, c.now, c.reqID = h.index, h.now, maps.Clone(h.reqID)
	return c
}

func TestSnapshotRestoreContinue(t *testing.T) {
	cfg := session.Config{MaxPendingRequests: 2}
	h := newHarness(t, cfg)
	for _, s := range []string{"w1", "w2", "x"} {
		h.create(s)
	}
	h.set("x", "k", "1")
	h.watch("w1", "k")
	h.watch("w2", "k")
	h.watch("w2", "j")
	h.set("x", "k", "2")
	h.set("x", "j", "3") // w2 full: j missed
	h.set("x", "other", "o")
	if st := h.app.Stats(); st.LaggingSessions != 1 {
		t.Fatalf("the test needs a lagging session: %+v", st)
	}
	c := restoredCopy(t, h, cfg)
	mustEqualBytes(t, "snapshot after restore", c.snapshot(), h.snapshot())
	if h.app.Stats() != c.app.Stats() {
		t.Fatalf("stats %+v vs %+v", h.app.Stats(), c.app.Stats())
	}

	steps := []func(h *harness) session.Result{
		func(h *harness) session.Result { return h.set("x", "k", "4") },
		func(h *harness) session.Result {
			return h.apply(session.Acks{At: h.tick(), Acks: []session.Ack{{Session: "w2", UpTo: 3}, {Session: "w1", UpTo: 1}}})
		},
		func(h *harness) session.Result { return h.del("w1", "k") },
		func(h *harness) session.Result { return h.watch("x", "j") },
		func(h *harness) session.Result { return h.apply(session.CloseSession{At: h.tick(), Session: "w1"}) },
		func(h *harness) session.Result {
			return h.apply(session.Internal{At: h.tick(), Payload: kv.FlushCommand()})
		},
		func(h *harness) session.Result { return h.set("w2", "j", "5") },
	}
	for i, step := range steps {
		r1, r2 := step(h), step(c)
		if !reflect.DeepEqual(r1, r2) {
			t.Fatalf("step %d: results differ:\n%+v\n%+v", i, r1, r2)
		}
		mustEqualBytes(t, fmt.Sprintf("snapshots after step %d", i), c.snapshot(), h.snapshot())
	}
	if got := c.get("x", "j"); got.Value != "5" {
		t.Fatalf("get: %+v", got)
	}
}

// randomLog builds a command log of session churn (creations, closes, expiries), writes,
// watches, acks, flushes and malformed payloads, from a fixed seed.
func randomLog(seed uint64, n int) [][]byte {
	rng := rand.New(rand.NewPCG(seed, 7))
	var log [][]byte
	now := int64(1_000)
	reqID := map[string]uint64{}
	add := func(c session.Command) {
		b, err := session.EncodeCommand(nil, c)
		if err != nil {
			panic(err)
		}
		log = append(log, b)
	}
	sess := func() string { return fmt.Sprintf("s%d", rng.IntN(6)) }
	key := func() string { return fmt.Sprintf("k%d", rng.IntN(5)) }
	for range n {
		now += int64(rng.IntN(300))
		s := sess()
		var payload []byte
		switch op := rng.IntN(20); {
		case op < 2:
			add(session.CreateSession{At: now, ID: s})
			continue
		case op < 3:
			add(session.CloseSession{At: now, Session: s})
			continue
		case op < 5:
			add(session.Acks{At: now, Acks: []session.Ack{{Session: s, UpTo: uint64(rng.IntN(50))}}})
			continue
		case op < 6:
			add(session.Internal{At: now, Payload: kv.FlushCommand()})
			continue
		case op < 11:
			payload, _ = kvwire.AppendCommand(nil, kvwire.Set{Key: key(), Value: fmt.Sprint(rng.IntN(10))})
		case op < 13:
			payload, _ = kvwire.AppendCommand(nil, kvwire.Delete{Key: key()})
		case op < 18:
			payload, _ = kvwire.AppendCommand(nil, kvwire.Watch{Key: key()})
		default:
			payload = []byte("garbage")
		}
		reqID[s]++
		add(session.ClientRequest{At: now, Session: s, RequestID: reqID[s], LowestPending: reqID[s], Payload: payload})
	}
	return log
}

// Two machines fed the same log produce the same results and byte-identical snapshots
// after every entry; a third one, restored from the first's snapshot half-way, too.
func TestDeterminismOnTheSameLog(t *testing.T) {
	cfg := session.Config{SessionTimeout: 5_000, LeaderGrace: 1, MaxPendingRequests: 3}
	for seed := range uint64(5) {
		log := randomLog(seed, 1500)
		a, b := newHarness(t, cfg), newHarness(t, cfg)
		var c *harness
		var overflows, notified uint64
		for i, e := range log {
			idx := uint64(i + 1)
			ra, err := a.m.ApplyEntry(idx, e)
			if err != nil {
				t.Fatal(err)
			}
			rb, err := b.m.ApplyEntry(idx, e)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(ra, rb) {
				t.Fatalf("seed %d entry %d: results differ:\n%+v\n%+v", seed, idx, ra, rb)
			}
			notified += uint64(len(ra.ServerRequests))
			if i == len(log)/2 {
				c = newHarness(t, cfg)
				if err := c.m.Restore(a.snapshot()); err != nil {
					t.Fatal(err)
				}
			} else if c != nil {
				rc, err := c.m.ApplyEntry(idx, e)
				if err != nil {
					t.Fatal(err)
				}
				if !reflect.DeepEqual(ra, rc) {
					t.Fatalf("seed %d entry %d: restored machine differs:\n%+v\n%+v", seed, idx, ra, rc)
				}
				mustEqualBytes(t, "restored machine's snapshot", c.snapshot(), a.snapshot())
			}
			mustEqualBytes(t, fmt.Sprintf("seed %d entry %d: snapshots", seed, idx), b.snapshot(), a.snapshot())
		}
		overflows = a.app.Stats().Overflows
		if notified == 0 || overflows == 0 || a.app.Stats().Watches == 0 {
			t.Fatalf("seed %d: the log exercised too little: %d notifications, stats %+v", seed, notified, a.app.Stats())
		}
	}
}

func TestRestoreRejectsMalformedSnapshots(t *testing.T) {
	valid, _ := hex.DecodeString(goldenHex)
	cases := map[string]string{
		"empty":                   "",
		"magic":                   "5a524b5801" + goldenHex[10:],
		"version":                 "5a524b5602" + goldenHex[10:],
		"truncated":               goldenHex[:len(goldenHex)-2],
		"trailing":                goldenHex + "00",
		"non-minimal varint":      "5a524b5601" + "8100" + goldenHex[12:],
		"keys out of order":       "5a524b5601" + "00" + "02" + "0162" + "00" + "0161" + "0131" + "00" + "00",
		"duplicate key":           "5a524b5601" + "00" + "02" + "0161" + "00" + "0161" + "00" + "00" + "00",
		"invalid utf-8 value":     "5a524b5601" + "00" + "01" + "0161" + "01ff" + "00" + "00",
		"lying key count":         "5a524b5601" + "00" + "ffffffff0f" + "0161",
		"lying string length":     "5a524b5601" + "00" + "01" + "ffffffff0f" + "61",
		"watched key no watchers": "5a524b5601" + "00" + "00" + "01" + "0161" + "00" + "00",
		"watchers out of order":   "5a524b5601" + "00" + "00" + "01" + "0161" + "02" + "027332" + "027331" + "00",
		"lagging unknown session": "5a524b5601" + "00" + "00" + "01" + "0161" + "01" + "027331" + "01" + "027332" + "01" + "0161",
		"lagging unwatched key":   "5a524b5601" + "00" + "00" + "01" + "0161" + "01" + "027331" + "01" + "027331" + "01" + "0162",
		"lagging missing nothing": "5a524b5601" + "00" + "00" + "01" + "0161" + "01" + "027331" + "01" + "027331" + "00",
		"lagging out of order": "5a524b5601" + "00" + "00" + "01" + "0161" + "02" + "027331" + "027332" +
			"02" + "027332" + "01" + "0161" + "027331" + "01" + "0161",
	}
	for name, hx := range cases {
		b, err := hex.DecodeString(hx)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		a := kv.New()
		if err := a.Restore(valid); err != nil {
			t.Fatal(err)
		}
		err = a.Restore(b)
		if !errors.Is(err, kv.ErrSnapshot) {
			t.Errorf("%s: Restore(%x) = %v, want ErrSnapshot", name, b, err)
			continue
		}
		// The state is unchanged.
		mustEqualBytes(t, name+": state after a failed restore", a.AppendSnapshot(nil), valid)
	}
}

// The machine does not tell the App its sessions on restore; a watcher the machine does
// not know (an inconsistent snapshot) is forgotten on the first send instead of failing.
func TestUnknownWatcherIsForgotten(t *testing.T) {
	app := kv.New()
	// a is watched by "ghost" and "s1"; ghost misses a.
	ghosts, _ := hex.DecodeString("5a524b5601" + "00" + "00" + "01" + "0161" + "02" + "0567686f7374" + "027331" +
		"01" + "0567686f7374" + "01" + "0161")
	if err := app.Restore(ghosts); err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t, app: app, m: session.New(session.Config{}, app), now: 1_000, reqID: map[string]uint64{}}
	// A new session named like a stale watcher starts with no subscription.
	h.create("s1")
	if st := app.Stats(); st != (kv.Stats{WatchedKeys: 1, Watches: 1, LaggingSessions: 1, Missed: 1}) {
		t.Fatalf("stats after creating s1: %+v", st)
	}
	h.create("s2")
	sameNotes(t, "set", h.set("s2", "a", "v").ServerRequests)
	if st := app.Stats(); st != (kv.Stats{Keys: 1}) {
		t.Fatalf("stats %+v", st)
	}
}
