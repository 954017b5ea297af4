// Package testutil holds what the telemetry module's tests share: a goroutine-leak
// check and the process's CPU time for benchmarks. Tests only; internal to the module.
package testutil

import (
	"runtime"
	"testing"
	"time"
)

// CheckNoGoroutineLeak fails t if, after it and the cleanups registered after this
// call, more goroutines run than before it, allowing a few seconds for finished ones to
// go; the failure lists every goroutine's stack.
func CheckNoGoroutineLeak(t testing.TB) {
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
				t.Errorf("%d goroutines before, %d after:\n%s", before, n, buf)
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
	})
}
