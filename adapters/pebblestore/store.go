package pebblestore

import (
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"

	"github.com/cockroachdb/pebble/v2"
	"github.com/hashicorp/raft"
)

// ErrClosed is returned by every method of a Store after Close.
var ErrClosed = errors.New("pebblestore: closed")

// Store is a hashicorp/raft LogStore, StableStore and MonotonicLogStore on a
// Pebble database in one directory. Every write that raft relies on is
// committed with a synced WAL write before the method returns; StoreLogs
// commits its whole batch atomically with exactly one sync. A Store is safe
// for concurrent use.
type Store struct {
	db  *pebble.DB
	log *slog.Logger

	// mu guards closed: methods hold it shared while they use db, Close
	// holds it exclusively, so db is never used after (or during) its Close.
	mu     sync.RWMutex
	closed bool

	// writeMu serialises the log writes (StoreLogs, DeleteRange) so that the
	// cached bounds are updated in commit order. Raft can call DeleteRange
	// (log compaction after a snapshot) concurrently with StoreLogs.
	writeMu sync.Mutex
	bounds  atomic.Pointer[bounds]

	syncs      *syncCounter
	batches    atomic.Uint64
	entries    atomic.Uint64
	deletes    atomic.Uint64
	corruption atomic.Uint64
}

// bounds caches the first and last log index; empty means there is no log.
type bounds struct {
	first, last uint64
	empty       bool
}

var (
	_ raft.LogStore          = (*Store)(nil)
	_ raft.StableStore       = (*Store)(nil)
	_ raft.MonotonicLogStore = (*Store)(nil)
)

// Open opens or creates the store in dir. Only one Store may have a directory
// open at a time (Pebble locks it). Open checks the store's format version
// and that its last log entry is intact.
func Open(dir string, opts ...Option) (*Store, error) {
	c := newConfig(opts)
	s := &Store{log: c.logger.With("component", "pebblestore", "dir", dir), syncs: new(syncCounter)}
	db, err := pebble.Open(dir, c.pebbleOptions(countingFS{FS: c.fs, n: s.syncs}))
	if err != nil {
		return nil, fmt.Errorf("pebblestore: open %s: %w", dir, err)
	}
	s.db = db
	if err := s.checkFormat(); err != nil {
		return nil, errors.Join(err, db.Close())
	}
	b, err := s.scanBounds()
	if err != nil {
		return nil, errors.Join(err, db.Close())
	}
	if !b.empty {
		// Fail now rather than hand raft a torn tail later.
		var l raft.Log
		if err := s.readLog(b.last, &l); err != nil {
			return nil, errors.Join(fmt.Errorf("pebblestore: open %s: last entry: %w", dir, err), db.Close())
		}
	}
	s.bounds.Store(&b)
	return s, nil
}

// checkFormat writes the format version into a new store and rejects a store
// written in a format this code does not know.
func (s *Store) checkFormat() error {
	v, closer, err := s.db.Get(keyFormat)
	if errors.Is(err, pebble.ErrNotFound) {
		if empty, err := s.dbEmpty(); err != nil || !empty {
			return errors.Join(errors.New("pebblestore: the database holds data but no store format version: not a pebblestore store"), err)
		}
		if err := s.db.Set(keyFormat, appendStable(nil, []byte{storeFormat}), pebble.Sync); err != nil {
			return fmt.Errorf("pebblestore: write format version: %w", err)
		}
		return nil
	}
	if err != nil {
		return fmt.Errorf("pebblestore: read format version: %w", err)
	}
	defer closer.Close()
	got, err := decodeStable(v)
	if err != nil {
		return fmt.Errorf("pebblestore: format version: %w", err)
	}
	if len(got) != 1 || got[0] != storeFormat {
		return fmt.Errorf("pebblestore: unsupported store format %x (this code reads %d)", got, storeFormat)
	}
	return nil
}

// dbEmpty reports whether the database holds no key at all.
func (s *Store) dbEmpty() (bool, error) {
	it, err := s.db.NewIter(nil)
	if err != nil {
		return false, err
	}
	return !it.First(), errors.Join(it.Error(), it.Close())
}

// scanBounds reads the first and last log index from the database.
func (s *Store) scanBounds() (bounds, error) {
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: logLower, UpperBound: logUpper})
	if err != nil {
		return bounds{}, fmt.Errorf("pebblestore: iterate log: %w", err)
	}
	defer it.Close()
	if !it.First() {
		return bounds{empty: true}, it.Error()
	}
	first, err := parseLogKey(it.Key())
	if err != nil {
		return bounds{}, err
	}
	if !it.Last() {
		return bounds{}, errors.Join(fmt.Errorf("pebblestore: log vanished while scanning"), it.Error())
	}
	last, err := parseLogKey(it.Key())
	if err != nil {
		return bounds{}, err
	}
	return bounds{first: first, last: last}, it.Error()
}

// seekIndex returns the first index >= from (forward) or the last index < from
// (backward), or ok=false if there is none.
func (s *Store) seekIndex(from uint64, forward bool) (uint64, bool, error) {
	it, err := s.db.NewIter(&pebble.IterOptions{LowerBound: logLower, UpperBound: logUpper})
	if err != nil {
		return 0, false, fmt.Errorf("pebblestore: iterate log: %w", err)
	}
	defer it.Close()
	var ok bool
	if forward {
		ok = it.SeekGE(logKey(from))
	} else {
		ok = it.SeekLT(logKey(from))
	}
	if !ok {
		return 0, false, it.Error()
	}
	idx, err := parseLogKey(it.Key())
	return idx, err == nil, err
}

// enter takes the shared lock and reports ErrClosed after Close. On success
// the caller must call s.mu.RUnlock.
func (s *Store) enter() error {
	s.mu.RLock()
	if s.closed {
		s.mu.RUnlock()
		return ErrClosed
	}
	return nil
}

// Close closes the database. Every later call, Close included, returns ErrClosed.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	s.closed = true
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("pebblestore: close: %w", err)
	}
	return nil
}

// IsMonotonic implements raft.MonotonicLogStore. It returns true so that raft,
// after restoring a snapshot, deletes the whole log (one range deletion here)
// instead of relying on a gap in indexes. The store itself accepts gaps.
func (s *Store) IsMonotonic() bool { return true }

// Stats are cumulative counters since Open, cheap to read, for metrics.
type Stats struct {
	// WALSyncs counts syncs of Pebble's write-ahead log files.
	WALSyncs uint64
	// Syncs counts syncs of any file or directory (WAL, MANIFEST, sstables,
	// directories), WALSyncs included.
	Syncs uint64
	// Batches counts StoreLogs calls that committed at least one entry.
	Batches uint64
	// Entries counts log entries committed by StoreLogs.
	Entries uint64
	// DeleteRanges counts DeleteRange calls that committed a deletion.
	DeleteRanges uint64
	// Corruptions counts reads that found a record failing its checksum or format.
	Corruptions uint64
}

// Stats returns the store's counters. It works after Close too.
func (s *Store) Stats() Stats {
	return Stats{
		WALSyncs:     s.syncs.wal.Load(),
		Syncs:        s.syncs.all.Load(),
		Batches:      s.batches.Load(),
		Entries:      s.entries.Load(),
		DeleteRanges: s.deletes.Load(),
		Corruptions:  s.corruption.Load(),
	}
}

// corrupt counts and logs a corruption finding and returns err unchanged.
func (s *Store) corrupt(err error, what string) error {
	s.corruption.Add(1)
	s.log.Error("corrupt record", "record", what, "error", err)
	return err
}
