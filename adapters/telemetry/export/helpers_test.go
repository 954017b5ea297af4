package export_test

import (
	"os"
	"runtime"
	"strings"
	"testing"
	"time"
)

// clearOTELEnv unsets every OTEL_* variable for the test (restored afterwards), so that
// the machine's environment cannot turn anything on.
func clearOTELEnv(t *testing.T) {
	t.Helper()
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); strings.HasPrefix(k, "OTEL_") {
			t.Setenv(k, "")
			if err := os.Unsetenv(k); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// setEnv sets the variables for the test, after clearing every other OTEL_* one.
func setEnv(t *testing.T, kv ...string) {
	t.Helper()
	clearOTELEnv(t)
	for i := 0; i+1 < len(kv); i += 2 {
		t.Setenv(kv[i], kv[i+1])
	}
}

// checkNoGoroutineLeak fails the test if, after it, more goroutines run than before it
// began, allowing the runtime a few seconds to let finished ones go.
func checkNoGoroutineLeak(t *testing.T) {
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
			time.Sleep(20 * time.Millisecond)
		}
	})
}
