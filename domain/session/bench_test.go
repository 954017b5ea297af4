package session_test

import (
	"fmt"
	"runtime"
	"testing"

	"github.com/zraft/zraft/domain/session"
)

// trivialApp echoes the payload: the benchmarks measure the machine, not an application.
type trivialApp struct{}

func (trivialApp) Apply(_ *session.Env, _ string, p []byte) ([]byte, error)        { return p, nil }
func (trivialApp) ApplyInternal(_ *session.Env, p []byte) ([]byte, error)          { return p, nil }
func (trivialApp) Query(_ string, p []byte) ([]byte, error)                        { return p, nil }
func (trivialApp) SessionCreated(*session.Env, string, []session.Capability) error { return nil }
func (trivialApp) SessionEnded(*session.Env, string, session.EndReason)            {}
func (trivialApp) AppendSnapshot(dst []byte) []byte                                { return dst }
func (trivialApp) Restore([]byte) error                                            { return nil }

// cpuMeter reports CPU time per operation (see processCPU), and applies per CPU second
// when perSecond is set. Run with -cpu 1 so that it is the benchmark's own core.
type cpuMeter struct{ start int64 }

func startCPU(b *testing.B) cpuMeter {
	b.ResetTimer()
	return cpuMeter{processCPU()}
}

func (c cpuMeter) report(b *testing.B, perSecond string) {
	end := processCPU()
	if c.start < 0 || end < 0 || b.N == 0 {
		return
	}
	perOp := float64(end-c.start) / float64(b.N)
	b.ReportMetric(perOp, "cpu-ns/op")
	if perSecond != "" && perOp > 0 {
		b.ReportMetric(1e9/perOp, perSecond)
	}
}

func uuidLike(i int) string { return fmt.Sprintf("%08x-0000-4000-8000-%012x", i, i) }

// populated returns a machine with n live sessions (all with capability role=worker).
func populated(tb testing.TB, n int) (*session.Machine, []string) {
	m := session.New(session.Config{SessionTimeout: 1 << 40}, trivialApp{})
	ids := make([]string, n)
	caps := []session.Capability{{Key: "role", Value: "worker"}}
	for i := range ids {
		ids[i] = uuidLike(i)
		if _, err := m.Apply(uint64(i+1), session.CreateSession{At: 1000, ID: ids[i], Capabilities: caps}); err != nil {
			tb.Fatal(err)
		}
	}
	return m, ids
}

// BenchmarkApplyClientRequest: new requests round-robin over 1,000 live sessions, each
// with K = its id so the cache keeps one response per session.
func BenchmarkApplyClientRequest(b *testing.B) {
	m, ids := populated(b, 1000)
	index := m.LastIndex()
	payload := []byte("0123456789abcdef")
	b.ReportAllocs()
	n := 0
	cpu := startCPU(b)
	for b.Loop() {
		s := n % len(ids)
		id := uint64(n/len(ids) + 1)
		index++
		res, err := m.Apply(index, session.ClientRequest{At: 2000, Session: ids[s], RequestID: id, LowestPending: id, Payload: payload})
		if err != nil || res.Outcomes[0].Kind != session.Replied || res.Outcomes[0].Cached {
			b.Fatalf("%v %+v", err, res)
		}
		n++
	}
	cpu.report(b, "applies/cpu-s")
}

// BenchmarkApplyClientRequestDuplicate: retries answered from the response cache.
func BenchmarkApplyClientRequestDuplicate(b *testing.B) {
	m, ids := populated(b, 1000)
	index := m.LastIndex()
	payload := []byte("0123456789abcdef")
	for _, id := range ids {
		index++
		if _, err := m.Apply(index, session.ClientRequest{At: 2000, Session: id, RequestID: 1, LowestPending: 1, Payload: payload}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	n := 0
	cpu := startCPU(b)
	for b.Loop() {
		index++
		res, err := m.Apply(index, session.ClientRequest{At: 2000, Session: ids[n%len(ids)], RequestID: 1, LowestPending: 1, Payload: payload})
		if err != nil || !res.Outcomes[0].Cached {
			b.Fatalf("%v %+v", err, res)
		}
		n++
	}
	cpu.report(b, "applies/cpu-s")
}

// BenchmarkApplyEntryClientRequest: the same as BenchmarkApplyClientRequest from encoded
// log entries (decode included), as the Raft FSM applies them.
func BenchmarkApplyEntryClientRequest(b *testing.B) {
	m, ids := populated(b, 1000)
	index := m.LastIndex()
	payload := []byte("0123456789abcdef")
	var entry []byte
	b.ReportAllocs()
	n := 0
	cpu := startCPU(b)
	for b.Loop() {
		id := uint64(n/len(ids) + 1)
		entry, _ = session.EncodeCommand(entry[:0], session.ClientRequest{At: 2000, Session: ids[n%len(ids)], RequestID: id, LowestPending: id, Payload: payload})
		index++
		if _, err := m.ApplyEntry(index, entry); err != nil {
			b.Fatal(err)
		}
		n++
	}
	cpu.report(b, "applies/cpu-s")
}

func heapInUse() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// BenchmarkIdleSessionMemory measures the heap held per idle session with 100,000
// sessions (36-byte UUID ids, one shared capability), map entries and indexes included.
// "cached" sessions also hold their last 16-byte response.
func BenchmarkIdleSessionMemory(b *testing.B) {
	for _, cached := range []bool{false, true} {
		b.Run(fmt.Sprintf("cached=%v", cached), func(b *testing.B) {
			const n = 100_000
			var perSession float64
			for b.Loop() {
				before := heapInUse()
				m, ids := populated(b, n)
				if cached {
					for i, id := range ids {
						if _, err := m.Apply(m.LastIndex()+1, session.ClientRequest{At: 2000, Session: id, RequestID: 1, LowestPending: 1, Payload: []byte(fmt.Sprintf("%016d", i))}); err != nil {
							b.Fatal(err)
						}
					}
				}
				after := heapInUse()
				perSession = float64(after-before) / n
				runtime.KeepAlive(m)
			}
			b.ReportMetric(perSession, "B/session")
		})
	}
}

func BenchmarkSnapshot100k(b *testing.B) {
	m, _ := populated(b, 100_000)
	var buf []byte
	b.ReportAllocs()
	cpu := startCPU(b)
	for b.Loop() {
		buf = m.AppendSnapshot(buf[:0])
	}
	cpu.report(b, "")
	b.ReportMetric(float64(len(buf)), "bytes")
}

func BenchmarkRestore100k(b *testing.B) {
	m, _ := populated(b, 100_000)
	snap := m.AppendSnapshot(nil)
	b.ReportAllocs()
	cpu := startCPU(b)
	for b.Loop() {
		r := session.New(session.Config{SessionTimeout: 1 << 40}, trivialApp{})
		if err := r.Restore(snap); err != nil {
			b.Fatal(err)
		}
	}
	cpu.report(b, "")
}
