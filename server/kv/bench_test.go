package kv_test

import (
	"fmt"
	"testing"

	"github.com/zraft/zraft/domain/session"
	"github.com/zraft/zraft/protocol/kvwire"
)

// BenchmarkSetApply applies Set commands through a session.Machine (decode of the log
// entry, exactly-once bookkeeping, the App), over 1,000 keys, with 0 or 10 watchers of
// the key being set (each watcher acknowledges so its queue never fills).
func BenchmarkSetApply(b *testing.B) {
	for _, watchers := range []int{0, 10} {
		b.Run(fmt.Sprintf("watchers=%d", watchers), func(b *testing.B) {
			h := newHarness(b, session.Config{})
			h.create("writer")
			var ws []string
			for i := range watchers {
				w := fmt.Sprintf("w%02d", i)
				ws = append(ws, w)
				h.create(w)
				for k := range 1000 {
					h.watch(w, fmt.Sprintf("key-%04d", k))
				}
			}
			entries := make([][]byte, 1000)
			for i := range entries {
				p, err := kvwire.AppendCommand(nil, kvwire.Set{Key: fmt.Sprintf("key-%04d", i), Value: "a value of some thirty bytes.."})
				if err != nil {
					b.Fatal(err)
				}
				// Request ids are per entry, so the benchmark re-uses the payloads only.
				entries[i] = p
			}
			id := h.reqID["writer"]
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				id++
				h.index++
				h.now++
				res, err := h.m.Apply(h.index, session.ClientRequest{
					At: h.now, Session: "writer", RequestID: id, LowestPending: id, Payload: entries[i%len(entries)],
				})
				if err != nil || res.Outcomes[0].Kind != session.Replied || len(res.ServerRequests) != watchers {
					b.Fatalf("apply: %v %+v", err, res)
				}
				if watchers > 0 && i%500 == 499 {
					b.StopTimer()
					acks := make([]session.Ack, len(ws))
					for j, w := range ws {
						info, _ := h.m.Session(w)
						acks[j] = session.Ack{Session: w, UpTo: info.LastSeq}
					}
					h.index++
					if _, err := h.m.Apply(h.index, session.Acks{At: h.now, Acks: acks}); err != nil {
						b.Fatal(err)
					}
					b.StartTimer()
				}
			}
		})
	}
}

// BenchmarkGetQuery answers Get queries through a session.Machine over 10,000 keys.
func BenchmarkGetQuery(b *testing.B) {
	h := newHarness(b, session.Config{})
	h.create("reader")
	queries := make([][]byte, 10_000)
	for i := range queries {
		k := fmt.Sprintf("key-%05d", i)
		h.set("reader", k, "a value of some thirty bytes..")
		q, err := kvwire.AppendGet(nil, kvwire.Get{Key: k})
		if err != nil {
			b.Fatal(err)
		}
		queries[i] = q
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		if o := h.m.Query("reader", queries[i%len(queries)]); o.Kind != session.Replied || len(o.Data) != 35 {
			b.Fatalf("query: %+v", o)
		}
	}
}
