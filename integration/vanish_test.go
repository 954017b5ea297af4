package integration

import (
	"syscall"
	"testing"
	"time"
)

// Scenario 8: a client process killed without closing its session. The session lives
// on until the timeout, then expires; a later attempt to continue it is rejected.
func TestVanishedClientSessionExpires(t *testing.T) {
	c, ctx := newCluster(t, 5*time.Minute)
	proc, id := vanishingClient(ctx, t, c, "")
	waitSessions(ctx, t, c, 1, 30*time.Second)
	must(t, proc.Process.Signal(syscall.SIGKILL))
	_ = proc.Wait()
	killed := time.Now()

	// Still there for most of the timeout (no early expiry)...
	time.Sleep(sessionTimeout / 2)
	if n := countSessions(ctx, t, c); n != 1 {
		t.Fatalf("%d sessions %v after the client vanished, want 1 until the timeout", n, time.Since(killed))
	}
	// ...and gone after it.
	waitSessions(ctx, t, c, 0, sessionTimeout+30*time.Second)
	t.Logf("session %s expired %v after its client vanished (timeout %v)", id, time.Since(killed).Round(time.Millisecond), sessionTimeout)
	expectContinueRejected(ctx, t, c, id)
}
