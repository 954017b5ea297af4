package client

import (
	"context"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/zraft/zraft/client/internal/testserver"
)

// testOptions keep failover quick in tests while leaving generous timeouts for a
// loaded machine.
func testOptions(extra ...Option) []Option {
	return append([]Option{
		WithConnectTimeout(5 * time.Second),
		WithBackoff(10*time.Millisecond, 200*time.Millisecond),
		WithKeepAlive(200*time.Millisecond, 10*time.Second),
		WithResendInterval(2 * time.Second),
	}, extra...)
}

func startCluster(t testing.TB, cfg testserver.Config) *testserver.Cluster {
	t.Helper()
	c, err := testserver.Start(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

func dial(t testing.TB, endpoints string, opts ...Option) *Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c, err := Dial(ctx, endpoints, testOptions(opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close(context.Background()) })
	return c
}

func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// checkLeaks fails the test if goroutines started during it are still running after
// its cleanups (registered later, so run earlier) have closed everything.
func checkLeaks(t *testing.T) {
	t.Helper()
	before := runtime.NumGoroutine()
	t.Cleanup(func() {
		deadline := time.Now().Add(10 * time.Second)
		for {
			n := runtime.NumGoroutine()
			if n <= before {
				return
			}
			if time.Now().After(deadline) {
				buf := make([]byte, 1<<20)
				buf = buf[:runtime.Stack(buf, true)]
				t.Errorf("goroutine leak: %d before, %d after\n%s", before, n, ours(string(buf)))
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
	})
}

// ours keeps the stacks that mention zraft code, to make a leak report readable.
func ours(dump string) string {
	var keep []string
	for g := range strings.SplitSeq(dump, "\n\n") {
		if strings.Contains(g, "zraft/zraft") && !strings.Contains(g, "checkLeaks") {
			keep = append(keep, g)
		}
	}
	return strings.Join(keep, "\n\n")
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func status(t testing.TB, c *Client) Status {
	t.Helper()
	s, err := c.Status(ctxT(t))
	if err != nil {
		t.Fatal(err)
	}
	return s
}
