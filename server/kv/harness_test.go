package kv_test

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/zraft/zraft/domain/session"
	"github.com/zraft/zraft/protocol/kvwire"
	"github.com/zraft/zraft/server/kv"
)

// harness drives a kv.App through a real session.Machine, every command going through
// the log encoding (session.EncodeCommand / Machine.ApplyEntry) as on a cluster member.
type harness struct {
	t     testing.TB
	app   *kv.App
	m     *session.Machine
	index uint64
	now   int64
	reqID map[string]uint64
	// log holds every entry applied, to replay it elsewhere.
	log [][]byte
}

func newHarness(t testing.TB, cfg session.Config) *harness {
	app := kv.New()
	return &harness{t: t, app: app, m: session.New(cfg, app), now: 1_000, reqID: map[string]uint64{}}
}

// apply appends cmd to the log and applies it, 1 ms of log time after the previous entry.
func (h *harness) apply(cmd session.Command) session.Result {
	h.t.Helper()
	entry, err := session.EncodeCommand(nil, cmd)
	if err != nil {
		h.t.Fatalf("encode %T: %v", cmd, err)
	}
	h.index++
	res, err := h.m.ApplyEntry(h.index, entry)
	if err != nil {
		h.t.Fatalf("apply %T at %d: %v", cmd, h.index, err)
	}
	h.log = append(h.log, entry)
	return res
}

func (h *harness) tick() int64 { h.now++; return h.now }

func (h *harness) create(id string) {
	h.t.Helper()
	res := h.apply(session.CreateSession{At: h.tick(), ID: id})
	if o := res.Outcomes[0]; o.Kind != session.Done {
		h.t.Fatalf("create %s: %+v", id, o)
	}
}

// request applies payload as sess's next client request and returns its result.
func (h *harness) request(sess string, payload []byte) session.Result {
	h.t.Helper()
	h.reqID[sess]++
	id := h.reqID[sess]
	return h.apply(session.ClientRequest{At: h.tick(), Session: sess, RequestID: id, LowestPending: id, Payload: payload})
}

// command applies a kvwire command and fails the test unless it succeeded with an empty result.
func (h *harness) command(sess string, c kvwire.Command) session.Result {
	h.t.Helper()
	payload, err := kvwire.AppendCommand(nil, c)
	if err != nil {
		h.t.Fatal(err)
	}
	res := h.request(sess, payload)
	if o := res.Outcomes[0]; o.Kind != session.Replied || len(o.Data) != 0 {
		h.t.Fatalf("%s %#v: outcome %+v, want an empty reply", sess, c, o)
	}
	return res
}

func (h *harness) set(sess, key, value string) session.Result {
	h.t.Helper()
	return h.command(sess, kvwire.Set{Key: key, Value: value})
}

func (h *harness) del(sess, key string) session.Result {
	h.t.Helper()
	return h.command(sess, kvwire.Delete{Key: key})
}

func (h *harness) watch(sess, key string) session.Result {
	h.t.Helper()
	return h.command(sess, kvwire.Watch{Key: key})
}

func (h *harness) get(sess, key string) kvwire.GetResult {
	h.t.Helper()
	q, err := kvwire.AppendGet(nil, kvwire.Get{Key: key})
	if err != nil {
		h.t.Fatal(err)
	}
	o := h.m.Query(sess, q)
	if o.Kind != session.Replied {
		h.t.Fatalf("get %q: %+v", key, o)
	}
	res, err := kvwire.DecodeGetResult(o.Data)
	if err != nil {
		h.t.Fatalf("get %q: result %x: %v", key, o.Data, err)
	}
	return res
}

func (h *harness) ack(sess string, upTo uint64) {
	h.t.Helper()
	h.apply(session.Acks{At: h.tick(), Acks: []session.Ack{{Session: sess, UpTo: upTo}}})
}

func (h *harness) snapshot() []byte { return h.m.AppendSnapshot(nil) }

// note is a decoded server request, for comparisons.
type note struct {
	Session string
	Seq     uint64
	Key     string
	Value   string
}

func (n note) String() string { return fmt.Sprintf("%s#%d %s=%q", n.Session, n.Seq, n.Key, n.Value) }

func notes(t testing.TB, reqs []session.ServerRequest) []note {
	t.Helper()
	out := make([]note, 0, len(reqs))
	for _, r := range reqs {
		n, err := kvwire.DecodeNotification(r.Payload)
		if err != nil {
			t.Fatalf("server request %d to %s: %x: %v", r.Seq, r.Session, r.Payload, err)
		}
		out = append(out, note{Session: r.Session, Seq: r.Seq, Key: n.Key, Value: n.Value})
	}
	return out
}

func sameNotes(t testing.TB, what string, got []session.ServerRequest, want ...note) {
	t.Helper()
	g := notes(t, got)
	if fmt.Sprint(g) != fmt.Sprint(want) {
		t.Fatalf("%s: notifications\n got %v\nwant %v", what, g, want)
	}
}

func mustEqualBytes(t testing.TB, what string, got, want []byte) {
	t.Helper()
	if !bytes.Equal(got, want) {
		t.Fatalf("%s differ:\n got %x\nwant %x", what, got, want)
	}
}
