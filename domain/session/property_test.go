package session_test

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"testing"

	"github.com/zraft/zraft/domain/session"
)

// clientModel is what one client of the property test knows: its session's incarnation,
// the requests it issued, and which of them it still waits for.
type clientModel struct {
	id      string
	live    bool
	nextID  uint64
	issued  []session.ClientRequest // by request id - 1
	waiting map[uint64]bool
}

func (c *clientModel) lowestPending() uint64 {
	k := c.nextID
	for id := range c.waiting {
		k = min(k, id)
	}
	return k
}

// streamGen produces a random command stream with duplicates, retries, stale retries,
// out-of-order acks, leader changes and long pauses that expire sessions.
type streamGen struct {
	rng     *rand.Rand
	now     int64
	clients []*clientModel
	term    uint64
}

func newStreamGen(seed uint64, nClients int) *streamGen {
	g := &streamGen{rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), now: 1_000_000}
	for i := range nClients {
		g.clients = append(g.clients, &clientModel{id: fmt.Sprintf("s%d", i)})
	}
	return g
}

func (g *streamGen) pick() *clientModel { return g.clients[g.rng.IntN(len(g.clients))] }

func (g *streamGen) next() session.Command {
	r := g.rng
	switch r.IntN(20) {
	case 0:
		g.now += int64(r.IntN(3000)) // may pass the timeout
	case 1:
		g.now -= int64(r.IntN(50)) // a leader clock behind log time
	default:
		g.now += int64(r.IntN(40))
	}
	c := g.pick()
	switch op := r.IntN(100); {
	case op < 8:
		caps := []session.Capability{{Key: "role", Value: []string{"worker", "client"}[r.IntN(2)]}}
		if r.IntN(4) == 0 {
			caps = append(caps, session.Capability{Key: "watch", Value: "yes"})
		}
		// A client that creates a session forgets its old one's requests: retrying them
		// on a new session is not something a client does.
		c.issued, c.waiting = nil, nil
		return session.CreateSession{At: g.now, ID: c.id, Capabilities: caps}
	case op < 50:
		c.nextID++
		var payload string
		switch r.IntN(6) {
		case 0:
			payload = "fail oops"
		case 1:
			payload = "push role=worker job"
		case 2:
			payload = "notify " + g.pick().id + " hi"
		default:
			payload = fmt.Sprintf("inc c%d", r.IntN(4))
		}
		req := session.ClientRequest{
			At: g.now, Session: c.id, RequestID: c.nextID, LowestPending: c.lowestPending(),
			Payload: fmt.Appendf(nil, "%s [%s#%d]", payload, c.id, c.nextID),
		}
		c.issued = append(c.issued, req)
		if c.waiting == nil {
			c.waiting = map[uint64]bool{}
		}
		c.waiting[c.nextID] = true
		return req
	case op < 65:
		if len(c.issued) == 0 {
			return session.Redelivery{At: g.now}
		}
		// A retry of an issued request, usually a recent one, with the current K (or an
		// old one): same id, same payload.
		i := len(c.issued) - 1 - min(r.IntN(4)*r.IntN(4), len(c.issued)-1)
		req := c.issued[i]
		req.At = g.now
		if r.IntN(3) > 0 {
			req.LowestPending = c.lowestPending()
		}
		return req
	case op < 75:
		// The client got replies: it stops waiting for some requests.
		for id := range c.waiting {
			if r.IntN(2) == 0 {
				delete(c.waiting, id)
			}
		}
		return session.Touch{At: g.now, Sessions: []string{c.id, g.pick().id}}
	case op < 82:
		return session.Acks{At: g.now, Acks: []session.Ack{{Session: c.id, UpTo: uint64(r.IntN(6))}, {Session: g.pick().id, UpTo: uint64(r.IntN(3))}}}
	case op < 85:
		return session.CloseSession{At: g.now, Session: c.id}
	case op < 88:
		g.term++
		return session.LeaderStarted{At: g.now, Term: g.term}
	case op < 94:
		return session.Redelivery{At: g.now}
	case op < 96:
		return session.Internal{At: g.now, Payload: []byte("tick")}
	default:
		n := 2 + r.IntN(3)
		b := session.Batch{}
		for range n {
			if c := g.next(); c != nil {
				if inner, ok := c.(session.Batch); ok {
					b.Commands = append(b.Commands, inner.Commands...)
				} else {
					b.Commands = append(b.Commands, c)
				}
			}
		}
		return b
	}
}

// observe updates the client models from a result: incarnations start and end. Request
// ids keep increasing across incarnations, so every (session, id) tag is unique.
func (g *streamGen) observe(res session.Result) {
	byID := map[string]*clientModel{}
	for _, c := range g.clients {
		byID[c.id] = c
	}
	for _, id := range res.Created {
		c := byID[id]
		c.live, c.issued, c.waiting = true, nil, map[uint64]bool{}
	}
	for _, ids := range [][]string{res.Expired, res.Closed} {
		for _, id := range ids {
			byID[id].live = false
		}
	}
}

// TestPropertyExactlyOnce runs random command streams with duplicates and retries against
// a machine, and against a second machine that is snapshotted and restored at random
// points; it checks that the application sees each request at most once, that
// duplicates get identical replies, that fresh requests of live sessions always run,
// that snapshot and restore never change an outcome, and the invariants after each step.
func TestPropertyExactlyOnce(t *testing.T) {
	seeds, steps := 60, 400
	if testing.Short() {
		seeds = 10
	}
	for seed := range uint64(seeds) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) { runProperty(t, seed, steps) })
	}
}

func runProperty(t *testing.T, seed uint64, steps int) {
	cfg := session.Config{SessionTimeout: 2000, LeaderGrace: 500, MaxCachedResponses: 5, MaxPendingRequests: 3, RedeliveryBase: 50, RedeliveryMax: 400}
	appA, appB := newCounterApp(), newCounterApp()
	a, b := session.New(cfg, appA), session.New(cfg, appB)
	gen := newStreamGen(seed, 5)
	first := map[string]session.Outcome{} // by payload tag: the first reply
	sent := map[string]bool{}
	snapshots := 0
	for step := range steps {
		cmd := gen.next()
		index := uint64(step + 1)
		resA, err := a.Apply(index, cmd)
		if err != nil {
			t.Fatalf("step %d: %v", step, err)
		}
		resB, err := b.Apply(index, cmd)
		if err != nil {
			t.Fatalf("step %d: %v", step, err)
		}
		if !reflect.DeepEqual(resA, resB) {
			t.Fatalf("seed %d step %d: a restored machine diverged:\n a %+v\n b %+v", seed, step, resA, resB)
		}
		if err := errors.Join(a.CheckInvariants(), a.CheckExpired()); err != nil {
			t.Fatalf("seed %d step %d: %v", seed, step, err)
		}
		var cmds []session.Command
		if bt, ok := cmd.(session.Batch); ok {
			cmds = bt.Commands
		} else {
			cmds = []session.Command{cmd}
		}
		ended := map[string]bool{}
		for _, id := range append(slices.Clone(resA.Expired), resA.Closed...) {
			ended[id] = true
		}
		liveBefore := map[string]bool{}
		for _, c := range gen.clients {
			liveBefore[c.id] = c.live
		}
		for i, c := range cmds {
			req, ok := c.(session.ClientRequest)
			if !ok {
				continue
			}
			o := resA.Outcomes[i]
			tag := string(req.Payload)
			switch o.Kind {
			case session.Replied, session.AppFailed:
				if prev, seen := first[tag]; seen {
					if prev.Kind != o.Kind || !bytes.Equal(prev.Data, o.Data) {
						t.Fatalf("seed %d step %d: duplicate %q got %v %q, first %v %q", seed, step, tag, o.Kind, o.Data, prev.Kind, prev.Data)
					}
					if !o.Cached {
						t.Fatalf("seed %d step %d: duplicate %q not answered from the cache", seed, step, tag)
					}
				} else {
					first[tag] = o
				}
			case session.Rejected:
				if _, seen := sent[tag]; !seen && o.Reject == session.ResponseEvicted {
					t.Fatalf("seed %d step %d: fresh request %q rejected %v", seed, step, tag, o.Reject)
				}
				if o.Reject == session.SessionExpired && liveBefore[req.Session] && !ended[req.Session] {
					t.Fatalf("seed %d step %d: %q rejected SessionExpired on a live session", seed, step, tag)
				}
			}
			sent[tag] = true
		}
		gen.observe(resA)
		if gen.rng.IntN(25) == 0 {
			snapshots++
			snap := b.AppendSnapshot(nil)
			appB = newCounterApp()
			b = session.New(cfg, appB)
			if err := b.Restore(snap); err != nil {
				t.Fatalf("seed %d step %d: restore: %v", seed, step, err)
			}
		}
	}
	for k, n := range appA.applied {
		if n > 1 {
			t.Fatalf("seed %d: the application ran %q %d times", seed, k, n)
		}
	}
	if !bytes.Equal(a.AppendSnapshot(nil), b.AppendSnapshot(nil)) {
		t.Fatalf("seed %d: snapshots differ after %d restores", seed, snapshots)
	}
	if len(first) == 0 {
		t.Fatalf("seed %d: no request ever ran; the generator is broken", seed)
	}
}
