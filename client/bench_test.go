package client

import (
	"context"
	"fmt"
	"os"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/zraft/zraft/client/internal/testserver"
)

// The benchmarks run against the in-process test double (no Raft, no disk): they
// measure the client, the transport and the protocol, not a cluster's commit latency.

func percentile(d []time.Duration, p float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	slices.Sort(d)
	return d[min(len(d)-1, int(p*float64(len(d))))]
}

func reportLatency(b *testing.B, lat []time.Duration) {
	b.ReportMetric(float64(percentile(lat, 0.50).Microseconds()), "p50-µs")
	b.ReportMetric(float64(percentile(lat, 0.99).Microseconds()), "p99-µs")
}

// BenchmarkSubmitSequential: one client, one command at a time.
func BenchmarkSubmitSequential(b *testing.B) {
	for _, members := range []int{1, 3} {
		b.Run(fmt.Sprintf("members=%d", members), func(b *testing.B) {
			cl := startCluster(b, testserver.Config{Members: members})
			cl.SetLeader(members - 1) // with 3, the client is redirected first
			c := dial(b, cl.Endpoints())
			ctx := context.Background()
			cmd := set(b, "key", "value")
			lat := make([]time.Duration, 0, b.N)
			b.ResetTimer()
			for b.Loop() {
				t0 := time.Now()
				if _, err := c.Submit(ctx, cmd); err != nil {
					b.Fatal(err)
				}
				lat = append(lat, time.Since(t0))
			}
			b.StopTimer()
			reportLatency(b, lat)
		})
	}
}

// BenchmarkSessionsPipelined: 1,000 sessions, each with 4 commands in flight.
func BenchmarkSessionsPipelined(b *testing.B) {
	cl := startCluster(b, testserver.Config{Members: 1})
	benchPipelined(b, cl.Endpoints(), 1000, 4)
}

// BenchmarkExternal runs the same measurements against a running cluster named by
// ZRAFT_BENCH_ENDPOINTS (for example zraftd members), and is skipped without it.
func BenchmarkExternal(b *testing.B) {
	endpoints := os.Getenv("ZRAFT_BENCH_ENDPOINTS")
	if endpoints == "" {
		b.Skip("ZRAFT_BENCH_ENDPOINTS not set")
	}
	b.Run("sequential", func(b *testing.B) {
		c := dial(b, endpoints)
		ctx := context.Background()
		cmd := set(b, "bench-key", "value")
		lat := make([]time.Duration, 0, b.N)
		for b.Loop() {
			t0 := time.Now()
			if _, err := c.Submit(ctx, cmd); err != nil {
				b.Fatal(err)
			}
			lat = append(lat, time.Since(t0))
		}
		b.StopTimer()
		reportLatency(b, lat)
	})
	b.Run("sessions=1000", func(b *testing.B) { benchPipelined(b, endpoints, 1000, 4) })
}

func benchPipelined(b *testing.B, endpoints string, sessions, depth int) {
	clients := make([]*Client, sessions)
	var wg sync.WaitGroup
	sem := make(chan struct{}, 32)
	for i := range clients {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			c, err := Dial(ctx, endpoints, WithConnectTimeout(20*time.Second))
			if err != nil {
				b.Error(err)
				return
			}
			clients[i] = c
		}()
	}
	wg.Wait()
	defer func() {
		for _, c := range clients {
			if c != nil {
				_ = c.Close(context.Background())
			}
		}
	}()
	if b.Failed() {
		return
	}
	cmd := set(b, "key", "value")
	ctx := context.Background()
	perClient := max(1, b.N/sessions)
	lats := make([][]time.Duration, sessions)
	b.ResetTimer()
	start := time.Now()
	for i, c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			lat := make([]time.Duration, 0, perClient)
			type inflight struct {
				call *Call
				t0   time.Time
			}
			window := make([]inflight, 0, depth)
			for n := 0; n < perClient || len(window) > 0; {
				for n < perClient && len(window) < depth {
					window = append(window, inflight{c.SubmitAsync(ctx, cmd), time.Now()})
					n++
				}
				if _, err := window[0].call.Wait(ctx); err != nil {
					b.Error(err)
					return
				}
				lat = append(lat, time.Since(window[0].t0))
				window = window[1:]
			}
			lats[i] = lat
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	var all []time.Duration
	for _, l := range lats {
		all = append(all, l...)
	}
	b.ReportMetric(float64(len(all))/elapsed.Seconds(), "commands/s")
	reportLatency(b, all)
}
