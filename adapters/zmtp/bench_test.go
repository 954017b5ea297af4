package zmtp

import (
	"context"
	"fmt"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/go-zeromq/zmq4"
)

// The round-trip benchmarks: N concurrent clients each send a 100-byte message and wait
// for the echo, b.N round trips in all, for our CLIENT/SERVER and, in the same run, for
// plain zmq4 DEALER/ROUTER. Reported: round trips per second, p50/p99 in µs, and the
// process's CPU time per round trip. Our Server runs in poller mode unless
// ZRAFT_ZMTP_SERVER_MODE=goroutine.

var benchClients = []int{1, 100, 1000}

func BenchmarkRoundTrip(b *testing.B) {
	for _, n := range benchClients {
		b.Run(fmt.Sprintf("impl=zmtp/clients=%d", n), func(b *testing.B) { benchZmtp(b, n) })
		b.Run(fmt.Sprintf("impl=zmq4/clients=%d", n), func(b *testing.B) { benchZmq4(b, n) })
	}
}

// runClients spreads b.N round trips over the clients and reports the figures.
func runClients(b *testing.B, n int, rt func(i int, msg []byte) error) {
	per := (b.N + n - 1) / n
	lat := make([][]time.Duration, n)
	var wg sync.WaitGroup
	b.ResetTimer()
	start, cpu0 := time.Now(), cpuTime()
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			msg := make([]byte, 100)
			lat[i] = make([]time.Duration, 0, per)
			for range per {
				t0 := time.Now()
				if err := rt(i, msg); err != nil {
					b.Error(err)
					return
				}
				lat[i] = append(lat[i], time.Since(t0))
			}
		}()
	}
	wg.Wait()
	elapsed, cpu := time.Since(start), cpuTime()-cpu0
	b.StopTimer()
	var all []time.Duration
	for _, l := range lat {
		all = append(all, l...)
	}
	b.ReportMetric(float64(len(all))/elapsed.Seconds(), "rt/s")
	b.ReportMetric(float64(percentile(all, 50).Microseconds()), "p50-µs")
	b.ReportMetric(float64(percentile(all, 99).Microseconds()), "p99-µs")
	// CPU time of the whole process (clients, server, GC) per round trip: less
	// sensitive than rt/s to what else runs on the machine.
	b.ReportMetric(float64(cpu.Nanoseconds())/1000/float64(max(len(all), 1)), "cpu-µs/rt")
	b.ReportMetric(0, "ns/op") // per-op time is meaningless across concurrent clients
}

func benchZmtp(b *testing.B, n int) {
	ctx := context.Background()
	s, err := Listen(ctx, "tcp://127.0.0.1:0", serverModeOpts()...)
	if err != nil {
		b.Fatal(err)
	}
	defer func() { _ = s.Close() }()
	go func() {
		for {
			ev, err := s.Recv(ctx)
			if err != nil {
				return
			}
			if ev.Kind == EventMessage {
				_ = s.Send(ev.RoutingID, ev.Data)
			}
		}
	}()
	clients := make([]*Client, n)
	for i := range clients {
		c, err := NewClient()
		if err != nil {
			b.Fatal(err)
		}
		defer func() { _ = c.Close() }()
		if err := c.Connect(s.Addr()); err != nil {
			b.Fatal(err)
		}
		for {
			ev, err := c.Recv(ctx)
			if err != nil {
				b.Fatal(err)
			}
			if ev.Kind == EventUp {
				break
			}
		}
		clients[i] = c
	}
	runClients(b, n, func(i int, msg []byte) error { return roundTrip(ctx, clients[i], msg) })
}

func benchZmq4(b *testing.B, n int) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	r := zmq4.NewRouter(ctx)
	defer func() { _ = r.Close() }()
	if err := r.Listen("tcp://127.0.0.1:0"); err != nil {
		b.Fatal(err)
	}
	endpoint := "tcp://" + r.Addr().(*net.TCPAddr).String()
	go func() {
		for {
			msg, err := r.Recv()
			if err != nil {
				return
			}
			if err := r.Send(msg); err != nil {
				return
			}
		}
	}()
	dealers := make([]zmq4.Socket, n)
	for i := range dealers {
		d := zmq4.NewDealer(ctx)
		defer func() { _ = d.Close() }()
		if err := d.Dial(endpoint); err != nil {
			b.Fatal(err)
		}
		dealers[i] = d
	}
	runClients(b, n, func(i int, msg []byte) error {
		if err := dealers[i].Send(zmq4.NewMsg(msg)); err != nil {
			return err
		}
		reply, err := dealers[i].Recv()
		if err != nil {
			return err
		}
		if len(reply.Frames) != 1 || len(reply.Frames[0]) != len(msg) {
			return fmt.Errorf("zmq4 reply %v", reply)
		}
		return nil
	})
}
