package zmtp

import (
	"runtime"
	"testing"
	"time"
)

// An idle connection runs its reader goroutine only: the writer starts for each PING
// (and each message) and ends when it has written it.
func TestIdleConnectionHasNoWriter(t *testing.T) {
	checkLeaks(t)
	ctx := testCtx(t)
	s := listen(t, WithHeartbeat(50*time.Millisecond, time.Hour, 0))
	base := runtime.NumGoroutine()
	const n = 20
	peers := make([]*rawPeer, n)
	for i := range peers {
		peers[i] = dialRaw(t, s.Addr())
		if _, err := peers[i].handshakeAs(socketClient); err != nil {
			t.Fatal(err)
		}
		waitKind(t, ctx, s.Recv, EventOpened)
	}
	// The PINGs still arrive, from writers started by the timer.
	for _, p := range peers {
		for range 2 {
			f, err := p.fr.next()
			if err != nil {
				t.Fatal(err)
			}
			if name, _, err := parseCommand(f.body); err != nil || !f.isCommand() || name != cmdPing {
				t.Fatalf("frame %q, want a PING", f.body)
			}
		}
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		extra := runtime.NumGoroutine() - base
		if extra <= n {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d idle connections run %d goroutines, want one each", n, extra)
		}
		time.Sleep(time.Millisecond)
	}
}
