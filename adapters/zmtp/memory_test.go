package zmtp

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"runtime/pprof"
	"strconv"
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
	ctx := testCtx(t)
	s := listen(t, WithMaxConnections(n+10))
	opened := make(chan struct{}, n)
	go func() {
		for {
			ev, err := s.Recv(ctx)
			if err != nil {
				return
			}
			if ev.Kind == EventOpened {
				opened <- struct{}{}
			}
		}
	}()
	before := memInUse()

	cmd := exec.Command(os.Args[0], "-test.run=^TestMemoryClients$", "-test.count=1")
	cmd.Env = append(os.Environ(), "ZRAFT_MEM_ADDR="+s.Addr(), fmt.Sprintf("ZRAFT_MEM_CLIENTS=%d", n))
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
	time.Sleep(DefaultHeartbeatIvl)
	cpu0 := cpuTime()
	const idle = 3 * DefaultHeartbeatIvl
	time.Sleep(idle)
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
	t.Logf("%d idle connections: %d bytes per connection (heap %d, stack %d), %d goroutines in all; "+
		"idle for %v: %v of CPU (%.2f µs per connection and heartbeat interval)",
		n, (after.total()-before.total())/int64(n),
		(after.heap-before.heap)/int64(n), (after.stack-before.stack)/int64(n), g,
		idle, cpu.Round(time.Millisecond), float64(cpu.Microseconds())/float64(n)/float64(idle/DefaultHeartbeatIvl))
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
	ctx := testCtx(t)
	for range n {
		c, err := NewClient()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = c.Close() })
		if err := c.Connect(addr); err != nil {
			t.Fatal(err)
		}
		waitKind(t, ctx, c.Recv, EventUp)
		// The events that follow are not read: an idle client receives nothing.
	}
	buf := make([]byte, 1)
	_, _ = os.Stdin.Read(buf)
}
