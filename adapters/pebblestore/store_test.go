package pebblestore

import (
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/hashicorp/raft"
)

func TestGapsKeepBoundsRight(t *testing.T) {
	// raft may store non-contiguous entries (StoreLogs allows it); the bounds
	// must follow the entries that exist, not arithmetic on the range deleted.
	s := openTestStore(t, t.TempDir())
	logs := append(makeLogs(1, 2, 1), makeLogs(10, 11, 1)...)
	logs = append(logs, makeLogs(20, 21, 1)...)
	if err := s.StoreLogs(logs); err != nil {
		t.Fatal(err)
	}
	wantBounds(t, s, 1, 21)
	mustDelete(t, s, 0, 5)
	wantBounds(t, s, 10, 21)
	mustDelete(t, s, 15, 100)
	wantBounds(t, s, 10, 11)
	mustDelete(t, s, 11, 11)
	wantBounds(t, s, 10, 10)
	mustDelete(t, s, 0, ^uint64(0))
	wantBounds(t, s, 0, 0)
}

func TestDeleteRangeToMaxIndex(t *testing.T) {
	s := openTestStore(t, t.TempDir())
	top := ^uint64(0)
	if err := s.StoreLogs([]*raft.Log{{Index: top - 1}, {Index: top}}); err != nil {
		t.Fatal(err)
	}
	mustSet(t, s, []byte("k"), []byte("v"))
	wantBounds(t, s, top-1, top)
	mustDelete(t, s, top, top)
	wantBounds(t, s, top-1, top-1)
	mustDelete(t, s, 0, top)
	wantBounds(t, s, 0, 0)
	// The range deletion of the whole log space leaves stable keys alone.
	wantValue(t, s, []byte("k"), []byte("v"))
}

func TestMissingKeyErrors(t *testing.T) {
	s := openTestStore(t, t.TempDir())
	_, err := s.Get([]byte("nope"))
	if !errors.Is(err, ErrKeyNotFound) || err.Error() != "not found" {
		t.Fatalf("Get(missing) = %v", err)
	}
	_, err = s.GetUint64([]byte("nope"))
	if !errors.Is(err, ErrKeyNotFound) || err.Error() != "not found" {
		t.Fatalf("GetUint64(missing) = %v", err)
	}
	// raft's own check of a fresh store relies on exactly that text.
	has, err := raft.HasExistingState(s, s, raft.NewInmemSnapshotStore())
	if err != nil || has {
		t.Fatalf("HasExistingState on a fresh store = %v, %v", has, err)
	}
}

func TestGetUint64WrongLengthIsCorrupt(t *testing.T) {
	s := openTestStore(t, t.TempDir())
	mustSet(t, s, []byte("k"), []byte("short"))
	if _, err := s.GetUint64([]byte("k")); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("GetUint64 of a 5-byte value = %v, want ErrCorrupt", err)
	}
}

func TestSecondOpenFails(t *testing.T) {
	dir := t.TempDir()
	openTestStore(t, dir)
	if s, err := Open(dir, WithLogger(quietLogger)); err == nil {
		s.Close()
		t.Fatal("second Open of a directory in use succeeded")
	}
}

func TestNilEntryRejected(t *testing.T) {
	s := openTestStore(t, t.TempDir())
	if err := s.StoreLogs([]*raft.Log{{Index: 1}, nil}); err == nil {
		t.Fatal("StoreLogs with a nil entry succeeded")
	}
	// Nothing of the failed batch is visible.
	wantBounds(t, s, 0, 0)
	wantMissing(t, s, 1, 1)
}

// rawPut writes key=val into the store's database behind its back, to
// simulate damage, with the store closed.
func rawPut(t *testing.T, dir string, key, val []byte) {
	t.Helper()
	db, err := pebble.Open(dir, &pebble.Options{Logger: pebbleLogger{quietLogger}})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Set(key, val, pebble.Sync); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestCorruptEntriesAreReported(t *testing.T) {
	dir := t.TempDir()
	s := openTestStore(t, dir)
	logs := makeLogs(1, 5, 1)
	if err := s.StoreLogs(logs); err != nil {
		t.Fatal(err)
	}
	mustSet(t, s, []byte("k"), []byte("v"))
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	// A flipped bit in entry 2, entry 3 stored under the key of entry 4, and
	// a torn (truncated) stable value.
	good := appendEntry(nil, logs[1])
	good[len(good)/2] ^= 0x10
	rawPut(t, dir, logKey(2), good)
	rawPut(t, dir, logKey(4), appendEntry(nil, logs[2]))
	torn := appendStable(nil, []byte("v"))
	rawPut(t, dir, stableKey([]byte("k")), torn[:len(torn)-1])

	s = openTestStore(t, dir)
	var l raft.Log
	if err := s.GetLog(2, &l); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("GetLog of a damaged entry = %v, want ErrCorrupt", err)
	}
	if err := s.GetLog(4, &l); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("GetLog of a misplaced entry = %v, want ErrCorrupt", err)
	}
	if _, err := s.Get([]byte("k")); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("Get of a torn value = %v, want ErrCorrupt", err)
	}
	wantLog(t, s, logs[0])
	if got := s.Stats().Corruptions; got != 3 {
		t.Fatalf("Stats().Corruptions = %d, want 3", got)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	// A damaged last entry fails Open instead of surfacing later.
	rawPut(t, dir, logKey(5), []byte{1, 2, 3})
	if s, err := Open(dir, WithLogger(quietLogger)); !errors.Is(err, ErrCorrupt) {
		if s != nil {
			s.Close()
		}
		t.Fatalf("Open with a torn last entry = %v, want ErrCorrupt", err)
	}
}

func TestUnknownFormatRejected(t *testing.T) {
	dir := t.TempDir()
	s := openTestStore(t, dir)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	rawPut(t, dir, keyFormat, appendStable(nil, []byte{storeFormat + 1}))
	if s, err := Open(dir, WithLogger(quietLogger)); err == nil {
		s.Close()
		t.Fatal("Open of a store in an unknown format succeeded")
	}
}

func TestOpenBadDirFails(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	if s, err := Open(file, WithLogger(quietLogger)); err == nil {
		s.Close()
		t.Fatal("Open on a regular file succeeded")
	}
}

func TestCloseStopsGoroutines(t *testing.T) {
	checkNoGoroutineLeak(t, func() {
		dir := t.TempDir()
		for range 3 {
			s, err := Open(dir, WithLogger(quietLogger))
			if err != nil {
				t.Fatal(err)
			}
			if err := s.StoreLogs(makeLogs(1, 100, 1)); err != nil {
				t.Fatal(err)
			}
			mustDelete(t, s, 1, 50)
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
		}
	})
}

// TestLargeDeleteRanges covers the range-deletion path of DeleteRange (ranges
// of pointDeleteLimit entries or more); smaller tests cover point deletions.
func TestLargeDeleteRanges(t *testing.T) {
	dir := t.TempDir()
	s := openTestStore(t, dir)
	if err := s.StoreLogs(makeLogs(1, 5000, 1)); err != nil {
		t.Fatal(err)
	}
	mustSet(t, s, []byte{prefixLog}, []byte("stable key equal to the log prefix"))
	mustDelete(t, s, 1, 2000)          // compaction-sized: a range deletion
	mustDelete(t, s, 2500, ^uint64(0)) // a large suffix: a range deletion
	wantBounds(t, s, 2001, 2499)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openTestStore(t, dir)
	wantBounds(t, s, 2001, 2499)
	wantMissing(t, s, 2000, 2000)
	wantMissing(t, s, 2500, 2500)
	wantLog(t, s, makeLogs(2001, 2001, 1)[0])
	wantLog(t, s, makeLogs(2499, 2499, 1)[0])
	wantValue(t, s, []byte{prefixLog}, []byte("stable key equal to the log prefix"))
}

func TestForeignDatabaseRejected(t *testing.T) {
	dir := t.TempDir()
	rawPut(t, dir, []byte("someone else's key"), []byte("v"))
	if s, err := Open(dir, WithLogger(quietLogger)); err == nil {
		s.Close()
		t.Fatal("Open of a Pebble database that is not a store succeeded")
	}
}

func TestCloseDuringUse(t *testing.T) {
	// Close while other goroutines append, read and truncate: each call
	// either completes or returns ErrClosed; none panics or touches a closed
	// database.
	s := openTestStore(t, t.TempDir())
	var wg sync.WaitGroup
	errs := make(chan error, 3)
	worker := func(op func(i uint64) error) {
		defer wg.Done()
		for i := uint64(1); ; i++ {
			if err := op(i); err != nil {
				if !errors.Is(err, ErrClosed) {
					errs <- err
				}
				return
			}
		}
	}
	wg.Add(3)
	go worker(func(i uint64) error { return s.StoreLogs(makeLogs(i, i, 1)) })
	go worker(func(i uint64) error {
		var l raft.Log
		err := s.GetLog(i/2+1, &l)
		if errors.Is(err, raft.ErrLogNotFound) {
			return nil
		}
		return err
	})
	go worker(func(i uint64) error { return s.SetUint64([]byte("k"), i) })
	time.Sleep(50 * time.Millisecond)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}
