package kv_test

import (
	"encoding/hex"
	"errors"
	"testing"

	"github.com/zraft/zraft/domain/session"
	"github.com/zraft/zraft/server/kv"
)

// FuzzRestore: Restore never panics, fails only with ErrSnapshot and leaves the state
// alone then, and whatever it accepts re-encodes to the same bytes and keeps working.
func FuzzRestore(f *testing.F) {
	golden, _ := hex.DecodeString(goldenHex)
	f.Add(golden)
	f.Add(kv.New().AppendSnapshot(nil))
	h := newHarness(f, session.Config{SessionTimeout: 5_000, LeaderGrace: 1, MaxPendingRequests: 3})
	for i, e := range randomLog(1, 300) {
		if _, err := h.m.ApplyEntry(uint64(i+1), e); err != nil {
			f.Fatal(err)
		}
		if i%50 == 0 {
			f.Add(h.app.AppendSnapshot(nil))
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		a := kv.New()
		if err := a.Restore(golden); err != nil {
			t.Fatal(err)
		}
		if err := a.Restore(b); err != nil {
			if !errors.Is(err, kv.ErrSnapshot) {
				t.Fatalf("error %v does not wrap ErrSnapshot", err)
			}
			mustEqualBytes(t, "state after a failed restore", a.AppendSnapshot(nil), golden)
			return
		}
		mustEqualBytes(t, "re-encoded snapshot", a.AppendSnapshot(nil), b)
		st := a.Stats()
		if st.Missed < st.LaggingSessions || st.Watches < st.WatchedKeys {
			t.Fatalf("inconsistent stats %+v", st)
		}
		// The restored state keeps working: queries, session ends and flushes (every
		// watcher is unknown to this empty machine, so the flush forgets the lagging ones).
		m := session.New(session.Config{}, a)
		if _, err := m.Apply(1, session.Internal{At: 1, Payload: kv.FlushCommand()}); err != nil {
			t.Fatal(err)
		}
		if st := a.Stats(); st.LaggingSessions != 0 || st.Missed != 0 {
			t.Fatalf("lagging unknown sessions survived a flush: %+v", st)
		}
		if _, err := a.Query("x", []byte("G\x00\x00\x00\x01a")); err != nil {
			t.Fatal(err)
		}
	})
}

// FuzzApply: any payload, as a command, a query or an internal command of a machine with
// watchers, is either applied or an application error; never a panic, never a rejection.
func FuzzApply(f *testing.F) {
	for _, s := range []string{
		"S\x00\x00\x00\x01a\x00\x00\x00\x01v", "W\x00\x00\x00\x01a", "D\x00\x00\x00\x01a",
		"G\x00\x00\x00\x01a", "kv.flush", "", "S\xff\xff\xff\xff",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, p []byte) {
		h := newHarness(t, session.Config{MaxPendingRequests: 1})
		h.create("s1")
		h.create("s2")
		h.watch("s1", "a")
		h.set("s2", "a", "x")
		for _, sess := range []string{"s1", "s2"} {
			res := h.request(sess, p)
			if k := res.Outcomes[0].Kind; k != session.Replied && k != session.AppFailed {
				t.Fatalf("command outcome %+v", res.Outcomes[0])
			}
			if k := h.m.Query(sess, p).Kind; k != session.Replied && k != session.AppFailed {
				t.Fatalf("query outcome %v", k)
			}
		}
		res := h.apply(session.Internal{At: h.tick(), Payload: p})
		if k := res.Outcomes[0].Kind; k != session.Replied && k != session.AppFailed {
			t.Fatalf("internal outcome %+v", res.Outcomes[0])
		}
		// The state still round-trips.
		a := kv.New()
		if err := a.Restore(h.app.AppendSnapshot(nil)); err != nil {
			t.Fatal(err)
		}
	})
}
