package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/zraft/zraft/protocol"
	"github.com/zraft/zraft/protocol/kvwire"
)

// TestBenchTracingCluster measures what tracing every command costs the cluster in
// production's shape: three zraftd processes, the clients elsewhere (this process,
// whose CPU does not count), every Set carrying a sampled W3C trace context, and the
// leader's CPU per Set with trace export on (OTLP over HTTP, to a collector in this
// process that reads and discards) against off, in alternating rounds, each on a fresh
// cluster. With export off the members ignore the trace context; with it on the leader
// records a span per Set and exports it.
//
// A report, not a unit test: ZRAFT_BENCH_TRACING=1 enables it;
// ZRAFT_BENCH_TRACING_ROUNDS (default 3), ZRAFT_BENCH_SET_SECONDS (default 10) and
// ZRAFT_BENCH_TRACING_SESSIONS (default 64, each with one Set in flight) size it;
// ZRAFT_BENCH_PROFILE_DIR saves the leader's CPU profile of each run there.
func TestBenchTracingCluster(t *testing.T) {
	if os.Getenv("ZRAFT_BENCH_TRACING") != "1" {
		t.Skip("ZRAFT_BENCH_TRACING=1 runs the tracing cost benchmark")
	}
	var spansBytes, posts atomic.Int64
	collector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, _ := io.Copy(io.Discard, r.Body)
		spansBytes.Add(n)
		posts.Add(1)
		w.Header().Set("Content-Type", "application/x-protobuf")
	}))
	defer collector.Close()
	d := time.Duration(envInt("ZRAFT_BENCH_SET_SECONDS", 10)) * time.Second
	sessions := envInt("ZRAFT_BENCH_TRACING_SESSIONS", 64)
	type result struct {
		on           bool
		sets         int
		leaderCPU    float64 // µs per Set
		followersCPU float64
	}
	var results []result
	for round := range envInt("ZRAFT_BENCH_TRACING_ROUNDS", 3) {
		for _, on := range []bool{round%2 == 1, round%2 == 0} { // alternate which goes first
			name := fmt.Sprintf("round%d/tracing=%v", round+1, on)
			t.Run(name, func(t *testing.T) {
				if on {
					t.Setenv("OTEL_TRACES_EXPORTER", "otlp")
					t.Setenv("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "http/protobuf")
					t.Setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", collector.URL+"/v1/traces")
				} else {
					t.Setenv("OTEL_TRACES_EXPORTER", "none")
				}
				t.Setenv("OTEL_METRICS_EXPORTER", "none")
				posts0 := posts.Load()
				ms := startBenchCluster(t)
				leader, followers := leaderOf(t, ms)
				profile := ""
				if dir := os.Getenv("ZRAFT_BENCH_PROFILE_DIR"); dir != "" {
					profile = filepath.Join(dir, fmt.Sprintf("leader-cpu-round%d-tracing-%v.pb.gz", round+1, on))
				}
				sets, lCPU, fCPU := runTracedSets(t, leader, followers, sessions, d, profile)
				if on && posts.Load() == posts0 {
					t.Fatal("tracing on, but the collector received nothing")
				}
				if !on && posts.Load() != posts0 {
					t.Fatal("tracing off, but the collector received spans")
				}
				results = append(results, result{on: on, sets: sets, leaderCPU: lCPU, followersCPU: fCPU})
				t.Logf("%s: %d Sets in %v (%.0f/s); leader %.1f µs CPU per Set, followers %.1f", name, sets, d,
					float64(sets)/d.Seconds(), lCPU, fCPU)
			})
		}
	}
	var off, on []float64
	var offRate, onRate []float64
	for _, r := range results {
		if r.on {
			on, onRate = append(on, r.leaderCPU), append(onRate, float64(r.sets))
		} else {
			off, offRate = append(off, r.leaderCPU), append(offRate, float64(r.sets))
		}
	}
	if len(on) == 0 || len(off) == 0 {
		return
	}
	med := func(x []float64) float64 { x = slices.Clone(x); slices.Sort(x); return x[len(x)/2] }
	t.Logf("leader CPU per Set, median: off %.1f µs, on %.1f µs: %+.1f%%; Sets per second, median: off %.0f, on %.0f: %+.1f%%; %d export requests, %d bytes",
		med(off), med(on), 100*(med(on)/med(off)-1), med(offRate)/d.Seconds(), med(onRate)/d.Seconds(),
		100*(med(onRate)/med(offRate)-1), posts.Load(), spansBytes.Load())
}

// runTracedSets runs Sets from n sessions (one in flight each) for d after a second of
// warm-up, every request with a sampled trace context, and returns how many completed
// and the leader's and the followers' CPU per Set in µs (from /proc, clock ticks).
func runTracedSets(t *testing.T, leader *benchMember, followers []*benchMember, n int, d time.Duration, profile string) (int, float64, float64) {
	ctx, cancel := context.WithTimeout(context.Background(), d+2*time.Minute)
	defer cancel()
	sessions := make([]*benchSession, n)
	for i := range sessions {
		s, err := openTracingSession(ctx, leader.client)
		if err != nil {
			t.Fatalf("session %d: %v", i, err)
		}
		sessions[i] = s
		defer func() { _ = s.c.Close() }()
	}
	var (
		done      atomic.Int64
		measuring atomic.Bool
		stop      atomic.Bool
		wg        sync.WaitGroup
		failed    atomic.Value
	)
	for i, s := range sessions {
		wg.Go(func() {
			for j := 0; !stop.Load(); j++ {
				if err := s.tracedSet(ctx, "k"+strconv.Itoa(i), strconv.Itoa(j)); err != nil {
					failed.CompareAndSwap(nil, err)
					return
				}
				if measuring.Load() {
					done.Add(1)
				}
			}
		})
	}
	time.Sleep(time.Second) // warm-up
	pids := func(ms ...*benchMember) (ticks int64) {
		for _, m := range ms {
			_, tk := procStats(t, m.p.cmd.Process.Pid)
			ticks += tk
		}
		return ticks
	}
	l0, f0 := pids(leader), pids(followers...)
	measuring.Store(true)
	if profile != "" { // the leader's CPU profile over most of the measured window
		saveProfile(t, leader, fmt.Sprintf("profile?seconds=%d", max(1, int(d.Seconds())-1)), profile)
	} else {
		time.Sleep(d)
	}
	measuring.Store(false)
	l1, f1 := pids(leader), pids(followers...)
	sets := int(done.Load())
	stop.Store(true)
	wg.Wait()
	if err := failed.Load(); err != nil {
		t.Fatalf("set: %v", err)
	}
	if sets == 0 {
		t.Fatal("no Set completed")
	}
	const tick = 10 * time.Millisecond // USER_HZ 100
	per := func(ticks int64) float64 {
		return float64((time.Duration(ticks) * tick).Microseconds()) / float64(sets)
	}
	return sets, per(l1 - l0), per(f1-f0) / float64(len(followers))
}

// openTracingSession opens a session that negotiates extensions, so that its requests
// may carry trace context.
func openTracingSession(ctx context.Context, endpoint string) (*benchSession, error) {
	s, err := dialBenchSession(ctx, endpoint)
	if err != nil {
		return nil, err
	}
	caps := protocol.Capabilities{{Key: "app", Value: "bench"},
		{Key: protocol.ExtensionCapabilityKey, Value: strconv.Itoa(int(protocol.ExtensionVersion))}}
	if err := s.send(ctx, &protocol.CreateSession{Capabilities: caps, Nonce: 1}); err != nil {
		_ = s.c.Close()
		return nil, err
	}
	m, err := s.recv(ctx)
	if err != nil {
		_ = s.c.Close()
		return nil, err
	}
	if v, ok := protocol.ConfirmedExtensions(m); !ok || v == 0 {
		_ = s.c.Close()
		return nil, fmt.Errorf("create session: extensions not confirmed: %#v", m)
	}
	return s, nil
}

// tracedSet runs one Set carrying a new sampled trace context.
func (s *benchSession) tracedSet(ctx context.Context, key, value string) error {
	payload, _ := kvwire.AppendCommand(nil, kvwire.Set{Key: key, Value: value})
	var ids [24]byte
	_, _ = rand.Read(ids[:])
	tp := "00-" + hex.EncodeToString(ids[:16]) + "-" + hex.EncodeToString(ids[16:]) + "-01"
	id := s.nextID
	s.nextID++
	if err := s.send(ctx, &protocol.ClientRequest{RequestID: id, LowestPendingRequestID: id, Payload: payload,
		Ext: &protocol.Extensions{TraceParent: tp}}); err != nil {
		return err
	}
	for {
		m, err := s.recv(ctx)
		if err != nil {
			return err
		}
		if r, ok := m.(*protocol.ClientResponse); ok && r.RequestID == id {
			return nil
		}
	}
}
