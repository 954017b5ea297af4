package zmtp

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"runtime/pprof"
	"strconv"
	"sync"
	"testing"
	"time"
)

// TestMemoryPerConnection (ZRAFT_MEM_CONNS=n) measures what n idle connections cost a
// Server: HeapInuse + StackInuse after GC, with the connections established and idle
// for a few heartbeat intervals, minus the same figures before they were opened. The
// clients run in a child process (TestMemoryClients), so none of their memory is
// counted. ZRAFT_MEM_PROFILE=file also writes a heap profile of that moment. It also
// reports the CPU time the Server's process used in 3 s of that idleness (PINGs, PONGs,
// sweeps), clients excluded.
//
// ZRAFT_MEM_SEND=d (a duration, e.g. 1s) makes it the keep-alive case instead: each
// client sends a 100-byte message every d (the clients' phases spread evenly over d)
// and the Server echoes it, as a session's keep-alive and its answer; the test then
// also reports the goroutines of the Server's process, sampled every 10 ms over the
// measured period (average and maximum), and the CPU time per message.
func TestMemoryPerConnection(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("ZRAFT_MEM_CONNS"))
	if n <= 0 {
		t.Skip("set ZRAFT_MEM_CONNS=2000 to measure the Server's memory per idle connection")
	}
	profile := os.Getenv("ZRAFT_MEM_PROFILE") // a file for the heap profile, by allocation site
	if profile != "" {
		runtime.MemProfileRate = 64
		defer func() { runtime.MemProfileRate = 512 * 1024 }()
	}
	var every time.Duration
	if v := os.Getenv("ZRAFT_MEM_SEND"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			t.Fatalf("ZRAFT_MEM_SEND=%q: want a positive duration", v)
		}
		every = d
	}
	ctx := testCtx(t)
	s := listen(t, WithMaxConnections(n+10))
	opened := make(chan struct{}, n)
	go func() {
		for {
			ev, err := s.Recv(ctx)
			if err != nil {
				return
			}
			switch ev.Kind {
			case EventOpened:
				opened <- struct{}{}
			case EventMessage:
				_ = s.Send(ev.RoutingID, ev.Data)
			}
		}
	}()
	before := memInUse()

	cmd := exec.Command(os.Args[0], "-test.run=^TestMemoryClients$", "-test.count=1")
	cmd.Env = append(os.Environ(), "ZRAFT_MEM_ADDR="+s.Addr(), fmt.Sprintf("ZRAFT_MEM_CLIENTS=%d", n),
		fmt.Sprintf("ZRAFT_MEM_SEND=%v", every))
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		_ = stdin.Close()
		if err := cmd.Wait(); err != nil {
			t.Errorf("client process: %v\n%s", err, out.String())
		}
	}()
	for i := range n {
		select {
		case <-opened:
		case <-ctx.Done():
			t.Fatalf("%d of %d connections opened\n%s", i, n, out.String())
		}
	}
	// Idle through a few PING/PONG rounds, as a real idle session would.
	time.Sleep(max(DefaultHeartbeatIvl, every))
	cpu0 := cpuTime()
	const idle = 3 * DefaultHeartbeatIvl
	var samples, sum, peak int
	for end := time.Now().Add(idle); time.Now().Before(end); time.Sleep(10 * time.Millisecond) {
		g := runtime.NumGoroutine()
		samples, sum, peak = samples+1, sum+g, max(peak, g)
	}
	cpu := cpuTime() - cpu0
	after := memInUse()
	if profile != "" {
		f, err := os.Create(profile)
		if err != nil {
			t.Fatal(err)
		}
		if err := pprof.WriteHeapProfile(f); err != nil {
			t.Fatal(err)
		}
		_ = f.Close()
	}
	g := runtime.NumGoroutine()
	t.Logf("%d connections: %d bytes per connection (heap %d, stack %d), %d goroutines in all; "+
		"idle for %v: %v of CPU (%.2f µs per connection and heartbeat interval)",
		n, (after.total()-before.total())/int64(n),
		(after.heap-before.heap)/int64(n), (after.stack-before.stack)/int64(n), g,
		idle, cpu.Round(time.Millisecond), float64(cpu.Microseconds())/float64(n)/float64(idle/DefaultHeartbeatIvl))
	if every > 0 {
		msgs := float64(n) * float64(idle) / float64(every)
		t.Logf("a message every %v per connection: goroutines over %v: average %.1f, max %d; %.1f µs of CPU per message",
			every, idle, float64(sum)/float64(max(samples, 1)), peak, float64(cpu.Microseconds())/msgs)
	}
}

type memFigures struct{ heap, stack int64 }

func (m memFigures) total() int64 { return m.heap + m.stack }

func memInUse() memFigures {
	var ms runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&ms)
	return memFigures{heap: int64(ms.HeapInuse), stack: int64(ms.StackInuse)}
}

// TestMemoryClients is the child of TestMemoryPerConnection: it holds its clients'
// connections open until stdin closes.
func TestMemoryClients(t *testing.T) {
	addr := os.Getenv("ZRAFT_MEM_ADDR")
	n, _ := strconv.Atoi(os.Getenv("ZRAFT_MEM_CLIENTS"))
	if addr == "" || n <= 0 {
		t.Skip("run by TestMemoryPerConnection")
	}
	every, _ := time.ParseDuration(os.Getenv("ZRAFT_MEM_SEND"))
	ctx := testCtx(t)
	clients := make([]*Client, n)
	for i := range n {
		c, err := NewClient()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = c.Close() })
		if err := c.Connect(addr); err != nil {
			t.Fatal(err)
		}
		waitKind(t, ctx, c.Recv, EventUp)
		clients[i] = c
		// Without ZRAFT_MEM_SEND the events that follow are not read: an idle client
		// receives nothing.
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	if every > 0 {
		for i, c := range clients {
			wg.Add(1)
			go func() {
				defer wg.Done()
				keepAlive(ctx, c, time.Duration(i)*every/time.Duration(n), every, stop)
			}()
		}
	}
	buf := make([]byte, 1)
	_, _ = os.Stdin.Read(buf)
	close(stop)
	wg.Wait()
}

// keepAlive sends c a 100-byte message every interval after offset, each once the
// previous one's echo arrived, until stop closes (or ctx ends, or c fails).
func keepAlive(ctx context.Context, c *Client, offset, every time.Duration, stop <-chan struct{}) {
	select {
	case <-time.After(offset):
	case <-stop:
		return
	}
	tick := time.NewTicker(every)
	defer tick.Stop()
	msg := make([]byte, 100)
	for {
		if err := roundTrip(ctx, c, msg); err != nil {
			return
		}
		select {
		case <-tick.C:
		case <-stop:
			return
		case <-ctx.Done():
			return
		}
	}
}
