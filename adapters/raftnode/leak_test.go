package raftnode_test

import (
	"runtime"
	"strings"
	"testing"
	"time"
)

// checkNoLeaks compares goroutine stacks before and after a test, with retries, and
// fails listing the goroutines that raftnode or raft started and did not stop.
func checkNoLeaks(t *testing.T) {
	t.Helper()
	before := runtime.NumGoroutine()
	t.Cleanup(func() {
		deadline := time.Now().Add(20 * time.Second)
		for {
			leaked := leakedStacks()
			if len(leaked) == 0 || runtime.NumGoroutine() <= before && len(leaked) == 0 {
				return
			}
			if time.Now().After(deadline) {
				t.Errorf("%d leaked goroutines:\n%s", len(leaked), strings.Join(leaked, "\n\n"))
				return
			}
			time.Sleep(50 * time.Millisecond)
		}
	})
}

// leakedStacks returns stacks of goroutines running raftnode or hashicorp/raft code,
// other than the current test's.
func leakedStacks() []string {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	var out []string
	for _, g := range strings.Split(string(buf), "\n\n") {
		if strings.Contains(g, "testing.tRunner") || strings.Contains(g, "checkNoLeaks") || strings.Contains(g, "leakedStacks") {
			continue
		}
		if strings.Contains(g, "hashicorp/raft") || strings.Contains(g, "zraft/adapters/raftnode") || strings.Contains(g, "cockroachdb/pebble") {
			out = append(out, g)
		}
	}
	return out
}
