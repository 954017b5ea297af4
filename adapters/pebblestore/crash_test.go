package pebblestore

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/hashicorp/raft"
)

// The crash test re-executes this test binary as a child that appends to a
// store until it is killed with SIGKILL at a random moment, then checks on
// reopen that every acknowledged write is intact and no partial one shows.
//
// The child reports on stdout, one line per event, always before and after
// each durable operation:
//
//	R first last       opened; the log holds [first, last]
//	P lo hi            StoreLogs of lo..hi is about to be called
//	A hi               it returned nil: lo..hi is acknowledged
//	S v / s v          SetUint64(crashKey, v) about to be called / returned
//	T x / t x          DeleteRange(first, x) about to be called / returned
//
// A line reaches the parent even if the child dies right after writing it
// (it sits in the pipe), so at any kill the parent knows the acknowledged
// state and the one operation that may or may not have happened.
const (
	envCrashDir    = "PEBBLESTORE_CRASH_DIR"
	envCrashSeed   = "PEBBLESTORE_CRASH_SEED"
	envCrashRounds = "PEBBLESTORE_CRASH_ROUNDS"
	crashKeep      = 500 // entries left after a truncation
)

var crashKey = []byte("crash-last")

// crashEntry is the content entry i must have, whoever wrote it.
func crashEntry(i uint64) *raft.Log {
	n := 8 + int(i*7919)%2048
	if i%97 == 0 {
		n = 40<<10 + int(i%1000) // spans two 32 KiB WAL blocks
	}
	data := patterned(n, byte(i))
	binary.BigEndian.PutUint64(data[:8], i)
	return &raft.Log{Index: i, Term: 1 + i/1000, Type: raft.LogCommand, Data: data}
}

func TestCrashChild(t *testing.T) {
	dir := os.Getenv(envCrashDir)
	if dir == "" {
		t.Skip("run by TestCrashRecovery as its child process")
	}
	seed, _ := strconv.ParseUint(os.Getenv(envCrashSeed), 10, 64)
	rng := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	s, err := Open(dir, WithLogger(quietLogger))
	if err != nil {
		fmt.Printf("E open: %v\n", err)
		os.Exit(3)
	}
	first, _ := s.FirstIndex()
	last, _ := s.LastIndex()
	emit := func(format string, args ...any) {
		if _, err := fmt.Fprintf(os.Stdout, format+"\n", args...); err != nil {
			os.Exit(4) // the parent is gone
		}
	}
	emit("R %d %d", first, last)
	fail := func(what string, err error) {
		emit("E %s: %v", what, err)
		os.Exit(3)
	}
	deadline := time.Now().Add(60 * time.Second)
	for next := last + 1; time.Now().Before(deadline); {
		n := 1 + rng.IntN(32)
		logs := make([]*raft.Log, n)
		for j := range logs {
			logs[j] = crashEntry(next + uint64(j))
		}
		hi := next + uint64(n) - 1
		emit("P %d %d", next, hi)
		if err := s.StoreLogs(logs); err != nil {
			fail("store", err)
		}
		emit("A %d", hi)
		next = hi + 1
		if rng.IntN(4) == 0 {
			emit("S %d", hi)
			if err := s.SetUint64(crashKey, hi); err != nil {
				fail("set", err)
			}
			emit("s %d", hi)
		}
		if f, _ := s.FirstIndex(); hi-f > 3*crashKeep && rng.IntN(8) == 0 {
			x := hi - crashKeep
			emit("T %d", x)
			if err := s.DeleteRange(f, x); err != nil {
				fail("delete", err)
			}
			emit("t %d", x)
		}
	}
	os.Exit(0)
}

// crashState is what the parent learnt from the child's report.
type crashState struct {
	mu                sync.Mutex
	ready             chan struct{}
	lines             []string
	ackedLast         uint64
	pendingLast       uint64 // 0: no StoreLogs in flight
	ackedTrunc        uint64
	pendingTrunc      uint64
	ackedSet, pendSet uint64
	hasSet            bool
	batches           int
}

func (c *crashState) feed(line string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.lines = append(c.lines, line)
	f := strings.Fields(line)
	if len(f) < 2 || len(f[0]) != 1 {
		return nil // the testing framework's own output
	}
	num := func(i int) uint64 {
		v, _ := strconv.ParseUint(f[i], 10, 64)
		return v
	}
	switch f[0] {
	case "R":
		close(c.ready)
	case "P":
		c.pendingLast = num(2)
	case "A":
		c.ackedLast, c.pendingLast = num(1), 0
		c.batches++
	case "S":
		c.pendSet = num(1)
	case "s":
		c.ackedSet, c.pendSet, c.hasSet = num(1), 0, true
	case "T":
		c.pendingTrunc = num(1)
	case "t":
		c.ackedTrunc, c.pendingTrunc = num(1), 0
	case "E":
		return fmt.Errorf("child failed: %s", line)
	}
	return nil
}

func TestCrashRecovery(t *testing.T) {
	if testing.Short() {
		t.Skip("crash test spawns processes")
	}
	rounds := 20
	if v, err := strconv.Atoi(os.Getenv(envCrashRounds)); err == nil && v > 0 {
		rounds = v
	}
	dir := t.TempDir()
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d, %d rounds (set %s for more)", seed, rounds, envCrashRounds)
	rng := rand.New(rand.NewPCG(seed, 1))

	// What the previous round left: the starting point of the next.
	var prevFirst, prevLast, prevSet uint64
	var prevHasSet bool
	totalAcked, killedInFlight, inFlightSurvived := 0, 0, 0
	for round := range rounds {
		st := &crashState{ready: make(chan struct{}), ackedLast: prevLast, ackedSet: prevSet, hasSet: prevHasSet}
		if prevFirst > 0 {
			st.ackedTrunc = prevFirst - 1
		}
		childSeed := rng.Uint64()
		cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1")
		cmd.Env = append(os.Environ(), envCrashDir+"="+dir, envCrashSeed+"="+strconv.FormatUint(childSeed, 10))
		cmd.Stderr = os.Stderr
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		readDone := make(chan error, 1)
		go func() {
			sc := bufio.NewScanner(out)
			var ferr error
			for sc.Scan() {
				if err := st.feed(sc.Text()); err != nil && ferr == nil {
					ferr = err
				}
			}
			readDone <- ferr
		}()

		// A quarter of the kills land at any moment from the start, Pebble's
		// recovery included; the rest while the child is appending.
		if rng.IntN(4) == 0 {
			time.Sleep(time.Duration(rng.IntN(150)) * time.Millisecond)
		} else {
			select {
			case <-st.ready:
			case <-time.After(60 * time.Second):
			}
			time.Sleep(time.Duration(1+rng.IntN(200)) * time.Millisecond)
		}
		if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatalf("round %d: kill: %v", round, err)
		}
		ferr := <-readDone
		werr := cmd.Wait()
		if ferr != nil {
			t.Fatalf("round %d (child seed %d): %v", round, childSeed, ferr)
		}
		if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
			t.Fatalf("round %d: child ended with %v, not by our SIGKILL; output:\n%s", round, werr, strings.Join(st.lines, "\n"))
		}
		if st.pendingLast != 0 {
			killedInFlight++
		}
		totalAcked += st.batches

		first, last, set, hasSet := verifyAfterCrash(t, dir, st)
		if st.pendingLast != 0 && last == st.pendingLast {
			inFlightSurvived++
		}
		t.Logf("round %d: %d batches acknowledged, killed with a batch in flight: %v; log now [%d, %d]",
			round, st.batches, st.pendingLast != 0, first, last)
		prevFirst, prevLast, prevSet, prevHasSet = first, last, set, hasSet
		if t.Failed() {
			t.Fatalf("round %d (child seed %d) failed; child output tail:\n%s", round, childSeed, tail(st.lines, 10))
		}
	}
	t.Logf("%d rounds: %d batches acknowledged in all, %d kills with a StoreLogs in flight (%d of those batches recovered whole, the rest absent); no acknowledged entry lost, no partial batch visible",
		rounds, totalAcked, killedInFlight, inFlightSurvived)
}

// verifyAfterCrash reopens the store and checks it against what the child
// acknowledged and what it may have been doing when killed.
func verifyAfterCrash(t *testing.T, dir string, st *crashState) (first, last, set uint64, hasSet bool) {
	t.Helper()
	s, err := Open(dir, WithLogger(quietLogger))
	if err != nil {
		t.Fatalf("reopen after kill: %v", err)
	}
	defer s.Close()
	first, _ = s.FirstIndex()
	last, _ = s.LastIndex()

	// The log ends at the acknowledged batch or, if one was in flight,
	// possibly at its end; never inside it (batches are atomic).
	if last != st.ackedLast && (st.pendingLast == 0 || last != st.pendingLast) {
		t.Errorf("last index %d: acknowledged %d, in flight %d", last, st.ackedLast, st.pendingLast)
	}
	if last > 0 {
		trunc := first - 1
		if trunc != st.ackedTrunc && (st.pendingTrunc == 0 || trunc != st.pendingTrunc) {
			t.Errorf("first index %d: acknowledged truncation to %d, in flight %d", first, st.ackedTrunc, st.pendingTrunc)
		}
	}
	// Scan the whole log once (point reads of every entry are too slow
	// under the race detector): contiguous, intact, the right content.
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: logLower, UpperBound: logUpper})
	if err != nil {
		t.Fatal(err)
	}
	want := first
	var l raft.Log
	for ok := it.First(); ok; ok = it.Next() {
		idx, err := parseLogKey(it.Key())
		if err != nil || idx != want {
			t.Errorf("log key %x (%v), want index %d", it.Key(), err, want)
			break
		}
		if err := decodeEntry(it.Value(), &l); err != nil {
			t.Errorf("entry %d: %v", idx, err)
			break
		}
		if !sameLog(&l, crashEntry(idx)) {
			t.Errorf("entry %d has the wrong content", idx)
			break
		}
		want++
	}
	if err := errors.Join(it.Error(), it.Close()); err != nil {
		t.Errorf("scan: %v", err)
	}
	if last > 0 && want != last+1 {
		t.Errorf("scan ended at %d, last index is %d", want-1, last)
	}
	// And through the API, the ends and a few in between.
	for _, i := range []uint64{first, (first + last) / 2, last} {
		if err := s.GetLog(i, &l); last > 0 && (err != nil || !sameLog(&l, crashEntry(i))) {
			t.Errorf("GetLog(%d): %v", i, err)
		}
	}
	if err := s.GetLog(last+1, &l); err != raft.ErrLogNotFound {
		t.Errorf("entry %d past the last: %v", last+1, err)
	}
	v, err := s.GetUint64(crashKey)
	switch {
	case err != nil && err.Error() == "not found":
		if st.hasSet {
			t.Errorf("stable value lost: acknowledged %d", st.ackedSet)
		}
	case err != nil:
		t.Errorf("GetUint64: %v", err)
	case st.hasSet && v == st.ackedSet, st.pendSet != 0 && v == st.pendSet:
		return first, last, v, true
	default:
		t.Errorf("stable value %d: acknowledged %d, in flight %d", v, st.ackedSet, st.pendSet)
	}
	return first, last, v, err == nil
}

func tail(lines []string, n int) string {
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}
