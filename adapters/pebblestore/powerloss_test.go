package pebblestore

import (
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/hashicorp/raft"
)

// A SIGKILL (crash_test.go) leaves the OS page cache intact, so it shows
// atomicity and recovery but not that acknowledged data was synced. This test
// simulates power loss: Pebble's crashable in-memory FS clones the state a
// machine crash could leave, dropping any part of the data not yet synced.

func TestPowerLossKeepsAcknowledgedBatches(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	t.Logf("seed %d", seed)
	fs := vfs.NewCrashableMem()
	s := openTestStore(t, "/db", withFS(fs))

	var acked atomic.Uint64 // last index of the last acknowledged batch
	var ends sync.Map       // every batch's last index -> true
	done := make(chan struct{})
	var clones []*vfs.MemFS
	var cloneAcked []uint64
	go func() {
		// Crash at random moments while the writer commits.
		defer close(done)
		rng := rand.New(rand.NewPCG(seed, 2))
		for range 12 {
			time.Sleep(time.Duration(rng.IntN(20)) * time.Millisecond)
			before := acked.Load()
			clones = append(clones, fs.CrashClone(vfs.CrashCloneCfg{
				UnsyncedDataPercent: rng.IntN(101),
				RNG:                 rand.New(rand.NewPCG(rng.Uint64(), 3)),
			}))
			cloneAcked = append(cloneAcked, before)
		}
	}()
	rng := rand.New(rand.NewPCG(seed, 1))
	next := uint64(1)
	ends.Store(uint64(0), true)
	for running := true; running; {
		select {
		case <-done:
			running = false
		default:
		}
		n := 1 + rng.IntN(16)
		logs := make([]*raft.Log, n)
		for j := range logs {
			logs[j] = crashEntry(next + uint64(j))
		}
		hi := next + uint64(n) - 1
		ends.Store(hi, true)
		if err := s.StoreLogs(logs); err != nil {
			t.Fatal(err)
		}
		acked.Store(hi)
		next = hi + 1
	}
	<-done
	for i, clone := range clones {
		c := openTestStore(t, "/db", withFS(clone))
		first, _ := c.FirstIndex()
		last, _ := c.LastIndex()
		if _, ok := ends.Load(last); !ok || last < cloneAcked[i] {
			t.Fatalf("crash %d: log ends at %d: acknowledged %d before the crash; a batch boundary: %v", i, last, cloneAcked[i], ok)
		}
		if last > 0 && first != 1 {
			t.Fatalf("crash %d: first index %d, want 1", i, first)
		}
		var l raft.Log
		for idx := first; idx <= last && last > 0; idx++ {
			if err := c.GetLog(idx, &l); err != nil || !sameLog(&l, crashEntry(idx)) {
				t.Fatalf("crash %d: entry %d: %v", i, idx, err)
			}
		}
		t.Logf("crash %d: %d acknowledged before it, %d recovered", i, cloneAcked[i], last)
	}
}

// TestPowerLossDropsUnsyncedWrites is the control for the test above: the
// simulated crash does lose what was written without a sync, so surviving it
// means something.
func TestPowerLossDropsUnsyncedWrites(t *testing.T) {
	fs := vfs.NewCrashableMem()
	s := openTestStore(t, "/db", withFS(fs))
	if err := s.StoreLogs(makeLogs(1, 3, 1)); err != nil {
		t.Fatal(err)
	}
	unsynced := appendEntry(nil, makeLogs(4, 4, 1)[0])
	if err := s.db.Set(logKey(4), unsynced, pebble.NoSync); err != nil {
		t.Fatal(err)
	}
	c := openTestStore(t, "/db", withFS(fs.CrashClone(vfs.CrashCloneCfg{})))
	wantBounds(t, c, 1, 3)
}
