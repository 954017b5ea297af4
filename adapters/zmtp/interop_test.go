package zmtp

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// The interop tests run our sockets against libzmq's own CLIENT and SERVER (C peers in
// interop/, built by scripts/interop-libzmq against a draft-enabled libzmq). They need
// ZRAFT_LIBZMQ_PEERS, the folder holding peer_client and peer_server; without it they
// are skipped.
func interopPeer(t *testing.T, name string) string {
	t.Helper()
	dir := os.Getenv("ZRAFT_LIBZMQ_PEERS")
	if dir == "" {
		t.Skip("ZRAFT_LIBZMQ_PEERS not set: run scripts/interop-libzmq (go tool task interop)")
	}
	p := filepath.Join(dir, name)
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("ZRAFT_LIBZMQ_PEERS is set but %v", err)
	}
	return p
}

func runPeerClient(ctx context.Context, bin, endpoint string, n int, holdMS int) error {
	cmd := exec.CommandContext(ctx, bin, endpoint, fmt.Sprint(n), "100")
	cmd.Env = append(os.Environ(), fmt.Sprintf("PEER_HOLD_MS=%d", holdMS))
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("peer_client: %v: %s", err, out)
	}
	if !strings.HasPrefix(string(out), fmt.Sprintf("ok %d", n)) {
		return fmt.Errorf("peer_client said %q", out)
	}
	return nil
}

// libzmq CLIENTs, with zio-raft's heartbeat settings, round-trip through our SERVER.
func TestInteropLibzmqClient(t *testing.T) {
	bin := interopPeer(t, "peer_client")
	checkLeaks(t)
	ctx := testCtx(t)
	s := listen(t)
	events := echo(s)
	var wg sync.WaitGroup
	errs := make(chan error, 10)
	for range 10 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- runPeerClient(ctx, bin, s.Addr(), 1000, 2500)
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	opened := 0
	deadline := time.After(20 * time.Second)
	for opened < 10 {
		select {
		case ev := <-events:
			if ev.Kind == EventOpened {
				opened++
			}
		case <-deadline:
			t.Fatalf("saw %d opened events, want 10", opened)
		}
	}
}

// With our own PINGs off, only our PONGs answer the libzmq CLIENT's PINGs: if they were
// wrong, it would drop the connection after its 10 s heartbeat timeout.
func TestInteropLibzmqClientHeartbeat(t *testing.T) {
	bin := interopPeer(t, "peer_client")
	checkLeaks(t)
	ctx := testCtx(t)
	s := listen(t, WithHeartbeat(0, 30*time.Second, 0))
	events := echo(s)
	if err := runPeerClient(ctx, bin, s.Addr(), 10, 12_000); err != nil {
		t.Fatal(err)
	}
	for ev := range events {
		if ev.Kind == EventClosed {
			t.Logf("closed: %v", ev.Reason)
			break
		}
		if ev.Kind == EventOpened {
			continue
		}
		t.Fatalf("unexpected %+v", ev)
	}
}

type peerServer struct {
	endpoint string
	stop     func()
}

func startPeerServer(t *testing.T, bin string, noHeartbeat bool) *peerServer {
	t.Helper()
	cmd := exec.Command(bin, "tcp://127.0.0.1:0")
	if noHeartbeat {
		cmd.Env = append(os.Environ(), "PEER_NO_HEARTBEAT=1")
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	stop := func() {
		once.Do(func() {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		})
	}
	t.Cleanup(stop)
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		t.Fatalf("peer_server: %v", err)
	}
	return &peerServer{endpoint: strings.TrimSpace(line), stop: stop}
}

// Our CLIENT round-trips with libzmq SERVERs, switches between them, keeps an idle
// connection up through heartbeats that only libzmq's PONGs answer, and reconnects
// after the server goes away.
func TestInteropLibzmqServer(t *testing.T) {
	bin := interopPeer(t, "peer_server")
	checkLeaks(t)
	ctx := testCtx(t)
	a := startPeerServer(t, bin, true)
	b := startPeerServer(t, bin, false)
	c := newClient(t, a.endpoint, WithHeartbeat(250*time.Millisecond, 2*time.Second, 3*time.Second))
	if ev := waitKind(t, ctx, c.Recv, EventUp); ev.Endpoint != a.endpoint {
		t.Fatalf("up on %q", ev.Endpoint)
	}
	for i := range 1000 {
		if err := roundTrip(ctx, c, fmt.Appendf(nil, "a-%d", i)); err != nil {
			t.Fatal(err)
		}
	}
	// Idle for 2.5 heartbeat timeouts: a PONG-less peer would be timed out.
	idle, cancel := context.WithTimeout(ctx, 5*time.Second)
	ev, err := c.Recv(idle)
	cancel()
	if err == nil {
		t.Fatalf("while idle: %+v", ev)
	}
	if err := roundTrip(ctx, c, []byte("after idle")); err != nil {
		t.Fatal(err)
	}
	if err := c.Connect(b.endpoint); err != nil {
		t.Fatal(err)
	}
	waitKind(t, ctx, c.Recv, EventDown)
	if ev := waitKind(t, ctx, c.Recv, EventUp); ev.Endpoint != b.endpoint {
		t.Fatalf("up on %q after switch", ev.Endpoint)
	}
	for i := range 1000 {
		if err := roundTrip(ctx, c, fmt.Appendf(nil, "b-%d", i)); err != nil {
			t.Fatal(err)
		}
	}
	b.stop()
	waitKind(t, ctx, c.Recv, EventDown)
}
