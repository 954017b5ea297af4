package kv_test

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/zraft/zraft/domain/session"
	"github.com/zraft/zraft/protocol/kvwire"
	"github.com/zraft/zraft/server/kv"
)

func TestSetGetDelete(t *testing.T) {
	h := newHarness(t, session.Config{})
	h.create("s1")
	if got := h.get("s1", "k"); got.Found {
		t.Fatalf("get of a new key: %+v", got)
	}
	h.set("s1", "k", "v1")
	h.set("s1", "other", "x")
	if got := h.get("s1", "k"); got != (kvwire.GetResult{Value: "v1", Found: true}) {
		t.Fatalf("get after set: %+v", got)
	}
	h.set("s1", "k", "")
	if got := h.get("s1", "k"); got != (kvwire.GetResult{Value: "", Found: true}) {
		t.Fatalf("get after set to empty: %+v", got)
	}
	h.del("s1", "k")
	if got := h.get("s1", "k"); got.Found {
		t.Fatalf("get after delete: %+v", got)
	}
	h.del("s1", "k") // deleting an absent key is a no-op, not an error
	if got := h.get("s1", "other"); got != (kvwire.GetResult{Value: "x", Found: true}) {
		t.Fatalf("other key: %+v", got)
	}
	if st := h.app.Stats(); st.Keys != 1 {
		t.Fatalf("stats %+v", st)
	}
}

// The Get result bytes are kvwire's, byte-compatible with zio-raft: 00 or ff + string.
func TestGetResultBytes(t *testing.T) {
	h := newHarness(t, session.Config{})
	h.create("s1")
	q := []byte("G\x00\x00\x00\x08test-key")
	if o := h.m.Query("s1", q); o.Kind != session.Replied || !bytes.Equal(o.Data, []byte{0}) {
		t.Fatalf("absent: %+v", o)
	}
	h.request("s1", []byte("S\x00\x00\x00\x08test-key\x00\x00\x00\x0atest-value"))
	want := []byte("\xff\x00\x00\x00\x0atest-value")
	if o := h.m.Query("s1", q); o.Kind != session.Replied || !bytes.Equal(o.Data, want) {
		t.Fatalf("present: %+v", o)
	}
}

func TestNotificationsInOrderToEveryWatcher(t *testing.T) {
	h := newHarness(t, session.Config{})
	for _, s := range []string{"c", "a", "b", "d"} {
		h.create(s)
	}
	h.watch("c", "k")
	h.watch("a", "k")
	h.watch("b", "k")
	h.watch("d", "other")

	// Watchers in session id order, the writer included; one notification per watcher.
	sameNotes(t, "first set", h.set("d", "k", "v1").ServerRequests,
		note{"a", 1, "k", "v1"}, note{"b", 1, "k", "v1"}, note{"c", 1, "k", "v1"})
	sameNotes(t, "second set", h.set("a", "k", "v2").ServerRequests,
		note{"a", 2, "k", "v2"}, note{"b", 2, "k", "v2"}, note{"c", 2, "k", "v2"})
	sameNotes(t, "unwatched key", h.set("a", "nobody", "x").ServerRequests)
	sameNotes(t, "other", h.set("a", "other", "o").ServerRequests, note{"d", 1, "other", "o"})

	// What the machine holds for redelivery is the same, in sequence order.
	sameNotes(t, "pending of c", h.m.PendingServerRequests("c"), note{"c", 1, "k", "v1"}, note{"c", 2, "k", "v2"})
	if st := h.app.Stats(); st.WatchedKeys != 2 || st.Watches != 4 || st.Overflows != 0 {
		t.Fatalf("stats %+v", st)
	}
}

// A Notification is zio-raft's byte layout: N, key, value.
func TestNotificationBytes(t *testing.T) {
	h := newHarness(t, session.Config{})
	h.create("s")
	h.watch("s", "test-key")
	res := h.set("s", "test-key", "test-value")
	want := []byte("N\x00\x00\x00\x08test-key\x00\x00\x00\x0atest-value")
	if len(res.ServerRequests) != 1 || !bytes.Equal(res.ServerRequests[0].Payload, want) {
		t.Fatalf("server requests %+v, want one with %x", res.ServerRequests, want)
	}
}

func TestWatchSendsCurrentValueAtOnce(t *testing.T) {
	h := newHarness(t, session.Config{})
	h.create("w")
	h.create("x")
	h.set("x", "k", "v")
	sameNotes(t, "watch of a present key", h.watch("w", "k").ServerRequests, note{"w", 1, "k", "v"})
	sameNotes(t, "watch of an absent key", h.watch("w", "absent").ServerRequests)
	sameNotes(t, "set of the absent key", h.set("x", "absent", "now").ServerRequests, note{"w", 2, "absent", "now"})
	h.set("x", "k", "")
	sameNotes(t, "watch of a key set to empty", h.watch("x", "k").ServerRequests, note{"x", 1, "k", ""})
}

func TestWatchTwiceIsIdempotent(t *testing.T) {
	h := newHarness(t, session.Config{})
	h.create("w")
	h.set("w", "k", "v1")
	sameNotes(t, "first watch", h.watch("w", "k").ServerRequests, note{"w", 1, "k", "v1"})
	before := h.app.AppendSnapshot(nil)
	sameNotes(t, "second watch", h.watch("w", "k").ServerRequests)
	mustEqualBytes(t, "app snapshots around a repeated watch", h.app.AppendSnapshot(nil), before)
	sameNotes(t, "set", h.set("w", "k", "v2").ServerRequests, note{"w", 2, "k", "v2"})
	if st := h.app.Stats(); st.Watches != 1 {
		t.Fatalf("stats %+v", st)
	}
}

func TestDeleteNotifiesWithEmptyValue(t *testing.T) {
	h := newHarness(t, session.Config{})
	h.create("a")
	h.create("b")
	h.set("a", "k", "v")
	h.watch("a", "k")
	h.watch("b", "k")
	sameNotes(t, "delete", h.del("a", "k").ServerRequests, note{"a", 2, "k", ""}, note{"b", 2, "k", ""})
	sameNotes(t, "delete of an absent key", h.del("a", "k").ServerRequests)
	// The watches outlive the key.
	sameNotes(t, "set again", h.set("b", "k", "w").ServerRequests, note{"a", 3, "k", "w"}, note{"b", 3, "k", "w"})
}

func TestSubscriptionsEndWithTheSession(t *testing.T) {
	for _, end := range []string{"closed", "expired"} {
		t.Run(end, func(t *testing.T) {
			h := newHarness(t, session.Config{SessionTimeout: 1_000, LeaderGrace: 1})
			// reference reaches the same key-value state with no watcher ever.
			reference := newHarness(t, session.Config{})
			reference.create("keeper")
			reference.set("keeper", "k", "v")
			reference.set("keeper", "j", "w")

			h.create("keeper")
			h.create("gone")
			h.set("keeper", "k", "v")
			h.watch("gone", "k")
			h.watch("gone", "j")
			h.set("keeper", "j", "w")
			switch end {
			case "closed":
				res := h.apply(session.CloseSession{At: h.tick(), Session: "gone"})
				if len(res.Closed) != 1 {
					t.Fatalf("close: %+v", res)
				}
			case "expired":
				h.now += 5_000
				res := h.apply(session.Touch{At: h.tick(), Sessions: []string{"keeper"}})
				if len(res.Expired) != 2 { // both expire: keeper's touch comes after the check
					t.Fatalf("expiry: %+v", res)
				}
				h.create("keeper2")
			}
			if st := h.app.Stats(); st != (kv.Stats{Keys: 2}) {
				t.Fatalf("stats after the session ended: %+v", st)
			}
			mustEqualBytes(t, "app state", h.app.AppendSnapshot(nil), reference.app.AppendSnapshot(nil))
			writer := "keeper"
			if end == "expired" {
				writer = "keeper2"
			}
			sameNotes(t, "set after the end", h.set(writer, "k", "v2").ServerRequests)
		})
	}
}

func TestMalformedPayloadsAreApplicationErrors(t *testing.T) {
	h := newHarness(t, session.Config{})
	h.create("s")
	h.watch("s", "k")
	bad := map[string][]byte{
		"empty":          nil,
		"unknown code":   []byte("X\x00\x00\x00\x01k"),
		"get as command": []byte("G\x00\x00\x00\x01k"),
		"truncated key":  []byte("S\x00\x00\x00\x05ab"),
		"lying length":   []byte("W\x7f\xff\xff\xff"),
		"negative":       []byte("D\xff\xff\xff\xff"),
		"missing value":  []byte("S\x00\x00\x00\x01k"),
		"trailing bytes": []byte("W\x00\x00\x00\x01k!"),
		"bad utf-8":      []byte("S\x00\x00\x00\x01k\x00\x00\x00\x01\xff"),
	}
	for name, p := range bad {
		res := h.request("s", p)
		o := res.Outcomes[0]
		if o.Kind != session.AppFailed || !strings.HasPrefix(string(o.Data), kv.ErrMalformed.Error()) {
			t.Errorf("%s: outcome %+v, want an application error", name, o)
		}
		if len(res.ServerRequests) != 0 {
			t.Errorf("%s: server requests %+v", name, res.ServerRequests)
		}
		if name == "get as command" {
			continue // a fine query
		}
		if q := h.m.Query("s", p); q.Kind != session.AppFailed || !strings.HasPrefix(string(q.Data), kv.ErrMalformed.Error()) {
			t.Errorf("%s as a query: outcome %+v", name, q)
		}
	}
	// A set as a query is malformed too: queries are Gets only.
	if q := h.m.Query("s", []byte("S\x00\x00\x00\x01k\x00\x00\x00\x00")); q.Kind != session.AppFailed {
		t.Errorf("set as a query: %+v", q)
	}
	res := h.apply(session.Internal{At: h.tick(), Payload: []byte("nonsense")})
	if o := res.Outcomes[0]; o.Kind != session.AppFailed || !strings.HasPrefix(string(o.Data), kv.ErrMalformed.Error()) {
		t.Errorf("internal: %+v", o)
	}
	// The machine and the app go on.
	sameNotes(t, "set after garbage", h.set("s", "k", "v").ServerRequests, note{"s", 1, "k", "v"})
	if got := h.get("s", "k"); got.Value != "v" {
		t.Fatalf("get: %+v", got)
	}
}

func TestErrorsAreSentinels(t *testing.T) {
	a := kv.New()
	if _, err := a.Query("s", []byte("?")); !errors.Is(err, kv.ErrMalformed) {
		t.Fatalf("query: %v", err)
	}
	if _, err := a.Apply(nil, "s", []byte("?")); !errors.Is(err, kv.ErrMalformed) {
		t.Fatalf("apply: %v", err)
	}
	if err := a.Restore([]byte("?")); !errors.Is(err, kv.ErrSnapshot) {
		t.Fatalf("restore: %v", err)
	}
}
