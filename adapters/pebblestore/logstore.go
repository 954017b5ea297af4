package pebblestore

import (
	"errors"
	"fmt"

	"github.com/cockroachdb/pebble/v2"
	"github.com/hashicorp/raft"
)

// FirstIndex returns the first index written, or 0 for an empty log. It is
// served from a cache kept in step with every write.
func (s *Store) FirstIndex() (uint64, error) {
	if err := s.enter(); err != nil {
		return 0, err
	}
	defer s.mu.RUnlock()
	return s.bounds.Load().first, nil
}

// LastIndex returns the last index written, or 0 for an empty log. It is
// served from a cache kept in step with every write.
func (s *Store) LastIndex() (uint64, error) {
	if err := s.enter(); err != nil {
		return 0, err
	}
	defer s.mu.RUnlock()
	return s.bounds.Load().last, nil
}

// GetLog reads the entry at index into log. A missing index returns
// raft.ErrLogNotFound; an entry failing its checksum or format returns an
// error wrapping ErrCorrupt.
func (s *Store) GetLog(index uint64, log *raft.Log) error {
	if err := s.enter(); err != nil {
		return err
	}
	defer s.mu.RUnlock()
	return s.readLog(index, log)
}

func (s *Store) readLog(index uint64, log *raft.Log) error {
	v, closer, err := s.db.Get(logKey(index))
	if errors.Is(err, pebble.ErrNotFound) {
		return raft.ErrLogNotFound
	}
	if err != nil {
		return fmt.Errorf("pebblestore: get log %d: %w", index, err)
	}
	defer closer.Close()
	if err := decodeEntry(v, log); err != nil {
		return s.corrupt(fmt.Errorf("pebblestore: log %d: %w", index, err), "log")
	}
	if log.Index != index {
		return s.corrupt(fmt.Errorf("pebblestore: log %d: %w: entry says index %d", index, ErrCorrupt, log.Index), "log")
	}
	return nil
}

// StoreLog stores one entry with a synced write.
func (s *Store) StoreLog(log *raft.Log) error {
	return s.StoreLogs([]*raft.Log{log})
}

// StoreLogs stores the entries in one atomic Pebble batch committed with one
// synced WAL write: when it returns nil, all of them survive a crash; if the
// process dies before, none or all of them are visible on reopen. Entries may
// overwrite existing indexes and need not be contiguous.
func (s *Store) StoreLogs(logs []*raft.Log) error {
	if len(logs) == 0 {
		return nil
	}
	if err := s.enter(); err != nil {
		return err
	}
	defer s.mu.RUnlock()
	s.writeMu.Lock()
	defer s.writeMu.Unlock()

	b := s.db.NewBatch()
	defer b.Close()
	var buf []byte
	lo, hi := ^uint64(0), uint64(0)
	for i, l := range logs {
		if l == nil {
			return fmt.Errorf("pebblestore: store logs: nil entry at position %d", i)
		}
		buf = appendEntry(buf[:0], l)
		// Batch.Set copies key and value into the batch, so buf is reused.
		if err := b.Set(logKey(l.Index), buf, nil); err != nil {
			return fmt.Errorf("pebblestore: store log %d: %w", l.Index, err)
		}
		lo, hi = min(lo, l.Index), max(hi, l.Index)
	}
	if err := b.Commit(pebble.Sync); err != nil {
		return fmt.Errorf("pebblestore: commit %d logs: %w", len(logs), err)
	}
	old := s.bounds.Load()
	nb := bounds{first: lo, last: hi}
	if !old.empty {
		nb.first, nb.last = min(old.first, lo), max(old.last, hi)
	}
	s.bounds.Store(&nb)
	s.batches.Add(1)
	s.entries.Add(uint64(len(logs)))
	return nil
}

// pointDeleteLimit is the most entries DeleteRange removes with point
// deletions; larger ranges get one range deletion. Every range tombstone in
// the memtable is re-fragmented by the next read (until a flush), so many
// small range deletions make reads slow; raft's frequent small deletions
// (conflicting suffixes) stay point deletions, its rare large ones (log
// compaction, the whole log after a snapshot restore) cost one tombstone.
const pointDeleteLimit = 1024

// DeleteRange deletes the entries with indexes in [min, max], inclusive, in
// one synced commit, and moves the cached bounds accordingly.
func (s *Store) DeleteRange(min, max uint64) error {
	if min > max {
		return nil
	}
	if err := s.enter(); err != nil {
		return err
	}
	defer s.mu.RUnlock()
	s.writeMu.Lock()
	defer s.writeMu.Unlock()

	old := s.bounds.Load()
	if old.empty || max < old.first || min > old.last {
		return nil // the bounds are exact: nothing is stored there
	}
	b := s.db.NewBatch()
	defer b.Close()
	if lo, hi := maxU(min, old.first), minU(max, old.last); hi-lo < pointDeleteLimit {
		for i := lo; ; i++ {
			if err := b.Delete(logKey(i), nil); err != nil {
				return fmt.Errorf("pebblestore: delete log %d: %w", i, err)
			}
			if i == hi {
				break
			}
		}
	} else if err := b.DeleteRange(logKey(min), logKeyEnd(max), nil); err != nil {
		return fmt.Errorf("pebblestore: delete logs [%d, %d]: %w", min, max, err)
	}
	if err := b.Commit(pebble.Sync); err != nil {
		return fmt.Errorf("pebblestore: delete logs [%d, %d]: %w", min, max, err)
	}
	s.deletes.Add(1)
	nb := *old
	switch {
	case min <= old.first && max >= old.last:
		nb = bounds{empty: true}
	case min <= old.first:
		// A prefix went (log compaction): the new first is the next entry.
		first, ok, err := s.seekIndex(max+1, true)
		if err != nil || !ok {
			return s.rescan(err)
		}
		nb.first = first
	case max >= old.last:
		// A suffix went (conflicting entries on a follower).
		last, ok, err := s.seekIndex(min, false)
		if err != nil || !ok {
			return s.rescan(err)
		}
		nb.last = last
	}
	s.bounds.Store(&nb)
	return nil
}

// rescan recomputes the cached bounds from the database when moving them
// failed (cause) or found the database disagreeing with the cache (cause nil),
// so that they never stay wrong. The deletion itself is committed either way.
func (s *Store) rescan(cause error) error {
	if cause == nil {
		s.log.Warn("cached log bounds disagreed with the database; rescanning")
	}
	b, err := s.scanBounds()
	if err == nil {
		s.bounds.Store(&b)
	}
	return errors.Join(cause, err)
}

// minU and maxU are min and max under names that DeleteRange's parameters
// (named as in raft.LogStore) do not shadow.
func minU(a, b uint64) uint64 { return min(a, b) }
func maxU(a, b uint64) uint64 { return max(a, b) }
