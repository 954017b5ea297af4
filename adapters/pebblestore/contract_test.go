package pebblestore

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/raft"
)

// contractStore is what raft needs from a log and stable store.
type contractStore interface {
	raft.LogStore
	raft.StableStore
}

// contractTarget describes one implementation under the contract suite.
type contractTarget struct {
	// open returns a fresh, empty store.
	open func(t *testing.T) contractStore
	// reopen closes s and opens the same data again; nil if not persistent.
	reopen func(t *testing.T, s contractStore) contractStore
	// close closes s; nil if the store cannot be closed.
	close func(s contractStore) error
	// closedErr is what every method returns after close.
	closedErr error
	// strictMissingUint64: GetUint64 of a missing key returns "not found".
	// raft accepts 0 with either nil or "not found"; InmemStore returns nil.
	strictMissingUint64 bool
}

func TestContractInmem(t *testing.T) {
	testLogStoreContract(t, contractTarget{
		open: func(*testing.T) contractStore { return raft.NewInmemStore() },
	})
}

func TestContractPebble(t *testing.T) {
	testLogStoreContract(t, contractTarget{
		open: func(t *testing.T) contractStore { return openTestStore(t, t.TempDir()) },
		reopen: func(t *testing.T, s contractStore) contractStore {
			ps := s.(*Store)
			dir := testDirs[ps]
			if err := ps.Close(); err != nil {
				t.Fatalf("close: %v", err)
			}
			return openTestStore(t, dir)
		},
		close:               func(s contractStore) error { return s.(*Store).Close() },
		closedErr:           ErrClosed,
		strictMissingUint64: true,
	})
}

// testLogStoreContract checks the behaviour hashicorp/raft relies on from a
// LogStore and StableStore. It runs against this package's Store and raft's
// InmemStore alike, so it asserts nothing that only one of them does.
func testLogStoreContract(t *testing.T, target contractTarget) {
	t.Run("EmptyStore", func(t *testing.T) {
		s := target.open(t)
		wantBounds(t, s, 0, 0)
		var l raft.Log
		for _, idx := range []uint64{0, 1, math.MaxUint64} {
			if err := s.GetLog(idx, &l); !errors.Is(err, raft.ErrLogNotFound) {
				t.Fatalf("GetLog(%d) on empty store = %v, want ErrLogNotFound", idx, err)
			}
		}
	})

	t.Run("StoreGetSingle", func(t *testing.T) {
		s := target.open(t)
		in := &raft.Log{
			Index: 1, Term: 3, Type: raft.LogConfiguration,
			Data: []byte("configuration"), Extensions: []byte{0, 1, 2},
			AppendedAt: time.Date(2026, 11, 26, 3, 4, 5, 123456789, time.UTC),
		}
		if err := s.StoreLog(in); err != nil {
			t.Fatalf("StoreLog: %v", err)
		}
		wantBounds(t, s, 1, 1)
		wantLog(t, s, in)
	})

	t.Run("StoreGetBatch", func(t *testing.T) {
		s := target.open(t)
		logs := makeLogs(1, 100, 2)
		if err := s.StoreLogs(logs); err != nil {
			t.Fatalf("StoreLogs: %v", err)
		}
		wantBounds(t, s, 1, 100)
		for _, l := range logs {
			wantLog(t, s, l)
		}
		more := makeLogs(101, 150, 3)
		if err := s.StoreLogs(more); err != nil {
			t.Fatalf("StoreLogs: %v", err)
		}
		wantBounds(t, s, 1, 150)
		wantLog(t, s, more[49])
		var l raft.Log
		for _, idx := range []uint64{0, 151, math.MaxUint64} {
			if err := s.GetLog(idx, &l); !errors.Is(err, raft.ErrLogNotFound) {
				t.Fatalf("GetLog(%d) = %v, want ErrLogNotFound", idx, err)
			}
		}
	})

	t.Run("DeleteRange", func(t *testing.T) {
		s := target.open(t)
		logs := makeLogs(1, 20, 1)
		if err := s.StoreLogs(logs); err != nil {
			t.Fatalf("StoreLogs: %v", err)
		}
		// Prefix, as log compaction does.
		mustDelete(t, s, 1, 5)
		wantBounds(t, s, 6, 20)
		wantMissing(t, s, 1, 5)
		wantLog(t, s, logs[5])
		// Suffix, as a follower drops conflicting entries.
		mustDelete(t, s, 16, 20)
		wantBounds(t, s, 6, 15)
		wantMissing(t, s, 16, 20)
		wantLog(t, s, logs[14])
		// Middle: bounds stay.
		mustDelete(t, s, 9, 10)
		wantBounds(t, s, 6, 15)
		wantMissing(t, s, 9, 10)
		wantLog(t, s, logs[7])
		wantLog(t, s, logs[10])
		// Rewrite the suffix with a new term.
		mustDelete(t, s, 13, 15)
		rewritten := makeLogs(13, 17, 9)
		if err := s.StoreLogs(rewritten); err != nil {
			t.Fatalf("StoreLogs: %v", err)
		}
		wantBounds(t, s, 6, 17)
		for _, l := range rewritten {
			wantLog(t, s, l)
		}
		// Everything, as raft does after restoring a snapshot; then go on
		// from the snapshot's index.
		mustDelete(t, s, 6, 17)
		wantBounds(t, s, 0, 0)
		wantMissing(t, s, 6, 17)
		after := makeLogs(1000, 1009, 10)
		if err := s.StoreLogs(after); err != nil {
			t.Fatalf("StoreLogs: %v", err)
		}
		wantBounds(t, s, 1000, 1009)
		wantLog(t, s, after[0])
	})

	t.Run("Overwrite", func(t *testing.T) {
		s := target.open(t)
		if err := s.StoreLogs(makeLogs(1, 3, 1)); err != nil {
			t.Fatalf("StoreLogs: %v", err)
		}
		again := makeLogs(2, 3, 2)
		if err := s.StoreLogs(again); err != nil {
			t.Fatalf("StoreLogs: %v", err)
		}
		wantBounds(t, s, 1, 3)
		wantLog(t, s, again[0])
		wantLog(t, s, again[1])
	})

	t.Run("Stable", func(t *testing.T) {
		s := target.open(t)
		if _, err := s.Get([]byte("missing")); err == nil || err.Error() != "not found" {
			t.Fatalf(`Get(missing) error = %v, want "not found"`, err)
		}
		v, err := s.GetUint64([]byte("missing"))
		if v != 0 {
			t.Fatalf("GetUint64(missing) = %d, want 0", v)
		}
		switch {
		case target.strictMissingUint64 && (err == nil || err.Error() != "not found"):
			t.Fatalf(`GetUint64(missing) error = %v, want "not found"`, err)
		case err != nil && err.Error() != "not found":
			t.Fatalf(`GetUint64(missing) error = %v, want nil or "not found"`, err)
		}
		mustSet(t, s, []byte("CurrentTerm"), []byte("one"))
		mustSet(t, s, []byte("CurrentTerm"), []byte("two"))
		wantValue(t, s, []byte("CurrentTerm"), []byte("two"))
		binKey := []byte{0, 1, 0, 0xff}
		mustSet(t, s, binKey, []byte{0, 0, 0})
		wantValue(t, s, binKey, []byte{0, 0, 0})
		for _, n := range []uint64{0, 1, 1 << 40, math.MaxUint64} {
			if err := s.SetUint64([]byte("LastVoteTerm"), n); err != nil {
				t.Fatalf("SetUint64: %v", err)
			}
			if got, err := s.GetUint64([]byte("LastVoteTerm")); err != nil || got != n {
				t.Fatalf("GetUint64 = %d, %v; want %d", got, err, n)
			}
		}
		// Stable keys that look like log keys do not leak into the log.
		mustSet(t, s, []byte{1, 0, 0, 0, 0, 0, 0, 0, 7}, []byte("x"))
		wantBounds(t, s, 0, 0)
	})

	t.Run("LargeEntries", func(t *testing.T) {
		s := target.open(t)
		big := &raft.Log{Index: 1, Term: 1, Type: raft.LogCommand, Data: patterned(4<<20, 1), Extensions: patterned(1<<20, 2)}
		if err := s.StoreLog(big); err != nil {
			t.Fatalf("StoreLog: %v", err)
		}
		var batch []*raft.Log
		for i := uint64(2); i <= 9; i++ {
			batch = append(batch, &raft.Log{Index: i, Term: 1, Type: raft.LogCommand, Data: patterned(1<<20, byte(i))})
		}
		if err := s.StoreLogs(batch); err != nil {
			t.Fatalf("StoreLogs: %v", err)
		}
		wantBounds(t, s, 1, 9)
		wantLog(t, s, big)
		wantLog(t, s, batch[7])
		large := patterned(256<<10, 3)
		mustSet(t, s, []byte("big"), large)
		wantValue(t, s, []byte("big"), large)
	})

	t.Run("Concurrent", func(t *testing.T) {
		// Raft appends from its main loop while log compaction deletes a
		// prefix from the snapshot goroutine and replication reads.
		s := target.open(t)
		const batches, per = 50, 4
		var wg sync.WaitGroup
		errs := make(chan error, 3)
		wg.Add(3)
		go func() {
			defer wg.Done()
			for b := range batches {
				lo := uint64(b*per + 1)
				if err := s.StoreLogs(makeLogs(lo, lo+per-1, 1)); err != nil {
					errs <- err
					return
				}
			}
		}()
		go func() {
			defer wg.Done()
			for b := range batches / 2 {
				if err := s.DeleteRange(1, uint64(b*per)); err != nil {
					errs <- err
					return
				}
			}
		}()
		go func() {
			defer wg.Done()
			var l raft.Log
			for range batches * 2 {
				first, _ := s.FirstIndex()
				if err := s.GetLog(first, &l); err != nil && !errors.Is(err, raft.ErrLogNotFound) {
					errs <- err
					return
				}
			}
		}()
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		first, _ := s.FirstIndex()
		last, _ := s.LastIndex()
		if last != batches*per || first < 1 || first > last {
			t.Fatalf("bounds after concurrent use = [%d, %d], want last %d", first, last, batches*per)
		}
		var l raft.Log
		for i := first; i <= last; i++ {
			if err := s.GetLog(i, &l); err != nil {
				t.Fatalf("GetLog(%d) within [%d, %d]: %v", i, first, last, err)
			}
		}
	})

	if target.reopen != nil {
		t.Run("Reopen", func(t *testing.T) {
			s := target.open(t)
			logs := makeLogs(1, 30, 4)
			if err := s.StoreLogs(logs); err != nil {
				t.Fatalf("StoreLogs: %v", err)
			}
			mustDelete(t, s, 1, 10)
			mustDelete(t, s, 26, 30)
			mustSet(t, s, []byte("k"), []byte("v"))
			if err := s.SetUint64([]byte("n"), 42); err != nil {
				t.Fatalf("SetUint64: %v", err)
			}
			s = target.reopen(t, s)
			wantBounds(t, s, 11, 25)
			wantMissing(t, s, 1, 10)
			wantMissing(t, s, 26, 30)
			for _, l := range logs[10:25] {
				wantLog(t, s, l)
			}
			wantValue(t, s, []byte("k"), []byte("v"))
			if n, err := s.GetUint64([]byte("n")); err != nil || n != 42 {
				t.Fatalf("GetUint64 after reopen = %d, %v", n, err)
			}
			mustDelete(t, s, 11, 25)
			s = target.reopen(t, s)
			wantBounds(t, s, 0, 0)
		})
	}

	if target.close != nil {
		t.Run("UseAfterClose", func(t *testing.T) {
			s := target.open(t)
			if err := s.StoreLogs(makeLogs(1, 3, 1)); err != nil {
				t.Fatalf("StoreLogs: %v", err)
			}
			if err := target.close(s); err != nil {
				t.Fatalf("close: %v", err)
			}
			var l raft.Log
			_, errFirst := s.FirstIndex()
			_, errLast := s.LastIndex()
			_, errGet := s.Get([]byte("k"))
			_, errGetU := s.GetUint64([]byte("k"))
			for name, err := range map[string]error{
				"FirstIndex":  errFirst,
				"LastIndex":   errLast,
				"GetLog":      s.GetLog(1, &l),
				"StoreLog":    s.StoreLog(&raft.Log{Index: 4}),
				"StoreLogs":   s.StoreLogs(makeLogs(4, 5, 1)),
				"DeleteRange": s.DeleteRange(1, 2),
				"Set":         s.Set([]byte("k"), []byte("v")),
				"Get":         errGet,
				"SetUint64":   s.SetUint64([]byte("k"), 1),
				"GetUint64":   errGetU,
				"close":       target.close(s),
			} {
				if !errors.Is(err, target.closedErr) {
					t.Errorf("%s after close = %v, want %v", name, err, target.closedErr)
				}
			}
		})
	}
}

// makeLogs returns entries lo..hi (inclusive) with contents derived from the
// index and term, so any mix-up between entries shows.
func makeLogs(lo, hi, term uint64) []*raft.Log {
	var out []*raft.Log
	for i := lo; i <= hi; i++ {
		l := &raft.Log{Index: i, Term: term, Type: raft.LogType(i % 6), Data: []byte(fmt.Sprintf("entry %d term %d", i, term))}
		if i%3 == 0 {
			l.Extensions = []byte{byte(i), byte(term)}
		}
		if i%2 == 0 {
			l.AppendedAt = time.Unix(1_700_000_000+int64(i), int64(i*7919%1e9))
		}
		out = append(out, l)
	}
	return out
}

// patterned returns n bytes of a pattern that differs by seed and does not
// repeat at any power-of-two period, so misplaced chunks show.
func patterned(n int, seed byte) []byte {
	unit := make([]byte, 251)
	for i := range unit {
		unit[i] = byte(i*31) ^ seed
	}
	return bytes.Repeat(unit, n/len(unit)+1)[:n]
}

func wantBounds(t *testing.T, s raft.LogStore, first, last uint64) {
	t.Helper()
	f, err := s.FirstIndex()
	if err != nil {
		t.Fatalf("FirstIndex: %v", err)
	}
	l, err := s.LastIndex()
	if err != nil {
		t.Fatalf("LastIndex: %v", err)
	}
	if f != first || l != last {
		t.Fatalf("bounds = [%d, %d], want [%d, %d]", f, l, first, last)
	}
}

func wantLog(t *testing.T, s raft.LogStore, want *raft.Log) {
	t.Helper()
	var got raft.Log
	if err := s.GetLog(want.Index, &got); err != nil {
		t.Fatalf("GetLog(%d): %v", want.Index, err)
	}
	if !sameLog(&got, want) {
		t.Fatalf("GetLog(%d) = %+v, want %+v", want.Index, got, *want)
	}
}

func sameLog(a, b *raft.Log) bool {
	return a.Index == b.Index && a.Term == b.Term && a.Type == b.Type &&
		bytes.Equal(a.Data, b.Data) && bytes.Equal(a.Extensions, b.Extensions) &&
		a.AppendedAt.Equal(b.AppendedAt)
}

func wantMissing(t *testing.T, s raft.LogStore, lo, hi uint64) {
	t.Helper()
	var l raft.Log
	for i := lo; i <= hi; i++ {
		if err := s.GetLog(i, &l); !errors.Is(err, raft.ErrLogNotFound) {
			t.Fatalf("GetLog(%d) = %v, want ErrLogNotFound", i, err)
		}
	}
}

func mustDelete(t *testing.T, s raft.LogStore, lo, hi uint64) {
	t.Helper()
	if err := s.DeleteRange(lo, hi); err != nil {
		t.Fatalf("DeleteRange(%d, %d): %v", lo, hi, err)
	}
}

func mustSet(t *testing.T, s raft.StableStore, k, v []byte) {
	t.Helper()
	if err := s.Set(k, v); err != nil {
		t.Fatalf("Set(%q): %v", k, err)
	}
}

func wantValue(t *testing.T, s raft.StableStore, k, want []byte) {
	t.Helper()
	got, err := s.Get(k)
	if err != nil || !bytes.Equal(got, want) {
		t.Fatalf("Get(%q) = %q, %v; want %q", k, got, err, want)
	}
}
