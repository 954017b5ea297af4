package pebblestore

import (
	"testing"

	"github.com/cockroachdb/pebble/v2"
)

// TestOneWALSyncPerBatch proves the durability cost: every StoreLogs call,
// whatever its size, is exactly one sync of the write-ahead log, and so is
// every DeleteRange and Set.
func TestOneWALSyncPerBatch(t *testing.T) {
	s := openTestStore(t, t.TempDir())
	start := s.Stats()
	next := uint64(1)
	sizes := []int{1, 2, 3, 8, 64, 256, 1, 100}
	for _, n := range sizes {
		if err := s.StoreLogs(makeLogs(next, next+uint64(n)-1, 1)); err != nil {
			t.Fatal(err)
		}
		next += uint64(n)
	}
	st := s.Stats()
	if got := st.WALSyncs - start.WALSyncs; got != uint64(len(sizes)) {
		t.Fatalf("%d StoreLogs calls made %d WAL syncs, want one each", len(sizes), got)
	}
	if st.Batches-start.Batches != uint64(len(sizes)) || st.Entries-start.Entries != next-1 {
		t.Fatalf("Stats = %+v, want %d batches of %d entries", st, len(sizes), next-1)
	}

	before := s.Stats().WALSyncs
	mustDelete(t, s, 1, 10)
	mustSet(t, s, []byte("k"), []byte("v"))
	if err := s.SetUint64([]byte("n"), 1); err != nil {
		t.Fatal(err)
	}
	if got := s.Stats().WALSyncs - before; got != 3 {
		t.Fatalf("DeleteRange, Set, SetUint64 made %d WAL syncs, want 3", got)
	}

	// Control: an unsynced write is not counted, so the counter measures
	// syncs and not commits.
	before = s.Stats().WALSyncs
	if err := s.db.Set([]byte{prefixMeta, 'x'}, []byte("y"), pebble.NoSync); err != nil {
		t.Fatal(err)
	}
	if got := s.Stats().WALSyncs - before; got != 0 {
		t.Fatalf("an unsynced write made %d WAL syncs, want 0", got)
	}
	// An empty batch writes nothing.
	before = s.Stats().WALSyncs
	if err := s.StoreLogs(nil); err != nil {
		t.Fatal(err)
	}
	if got := s.Stats().WALSyncs - before; got != 0 {
		t.Fatalf("an empty StoreLogs made %d WAL syncs, want 0", got)
	}
}
