package pebblestore

import (
	"errors"
	"io"
	"log/slog"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// testDirs remembers each test store's directory, for reopening.
var testDirs = map[*Store]string{}
var testDirsMu sync.Mutex

// quietLogger keeps Pebble's and the store's messages out of test output
// unless they are errors.
var quietLogger = slog.New(slog.NewTextHandler(io.Discard, nil))

// openTestStore opens a store in dir and closes it when the test ends.
func openTestStore(tb testing.TB, dir string, opts ...Option) *Store {
	tb.Helper()
	s, err := Open(dir, append([]Option{WithLogger(quietLogger)}, opts...)...)
	if err != nil {
		tb.Fatalf("Open(%s): %v", dir, err)
	}
	testDirsMu.Lock()
	testDirs[s] = dir
	testDirsMu.Unlock()
	tb.Cleanup(func() {
		if err := s.Close(); err != nil && !errors.Is(err, ErrClosed) {
			tb.Errorf("Close: %v", err)
		}
	})
	return s
}

// checkNoGoroutineLeak fails the test if, some time after fn returns, more
// goroutines run than before it. It retries because goroutines take a moment
// to exit after their owner is closed.
func checkNoGoroutineLeak(t *testing.T, fn func()) {
	t.Helper()
	before := runtime.NumGoroutine()
	fn()
	deadline := time.Now().Add(10 * time.Second)
	for {
		now := runtime.NumGoroutine()
		if now <= before {
			return
		}
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			buf = buf[:runtime.Stack(buf, true)]
			t.Fatalf("goroutines: %d before, %d after; stacks:\n%s", before, now, trimStacks(string(buf)))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// trimStacks drops the testing framework's own goroutines from a dump.
func trimStacks(dump string) string {
	var keep []string
	for _, g := range strings.Split(dump, "\n\n") {
		if !strings.Contains(g, "testing.(*T).Run") && !strings.Contains(g, "testing.tRunner") {
			keep = append(keep, g)
		}
	}
	return strings.Join(keep, "\n\n")
}
