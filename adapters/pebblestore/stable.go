package pebblestore

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/cockroachdb/pebble/v2"
)

// ErrKeyNotFound is returned by Get and GetUint64 for a key never set. Its
// text is exactly "not found", without this package's usual prefix, because
// hashicorp/raft recognises a missing key by comparing err.Error() with
// "not found" (as raft-boltdb's error of the same name reads).
var ErrKeyNotFound = errors.New("not found")

// Set stores val under key with a synced write.
func (s *Store) Set(key []byte, val []byte) error {
	if err := s.enter(); err != nil {
		return err
	}
	defer s.mu.RUnlock()
	if err := s.db.Set(stableKey(key), appendStable(nil, val), pebble.Sync); err != nil {
		return fmt.Errorf("pebblestore: set %q: %w", key, err)
	}
	return nil
}

// Get returns a copy of the value stored under key, or ErrKeyNotFound.
func (s *Store) Get(key []byte) ([]byte, error) {
	if err := s.enter(); err != nil {
		return nil, err
	}
	defer s.mu.RUnlock()
	v, closer, err := s.db.Get(stableKey(key))
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, ErrKeyNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("pebblestore: get %q: %w", key, err)
	}
	defer closer.Close()
	out, err := decodeStable(v)
	if err != nil {
		return nil, s.corrupt(fmt.Errorf("pebblestore: stable key %q: %w", key, err), "stable")
	}
	return out, nil
}

// SetUint64 stores val under key (8 bytes, big-endian) with a synced write.
func (s *Store) SetUint64(key []byte, val uint64) error {
	return s.Set(key, binary.BigEndian.AppendUint64(nil, val))
}

// GetUint64 returns the value SetUint64 stored under key, or 0 and
// ErrKeyNotFound. A value of another length than 8 bytes is reported as
// corrupt rather than guessed at.
func (s *Store) GetUint64(key []byte) (uint64, error) {
	v, err := s.Get(key)
	if err != nil {
		return 0, err
	}
	if len(v) != 8 {
		return 0, s.corrupt(fmt.Errorf("pebblestore: stable key %q: %w: %d bytes, want 8 for a uint64", key, ErrCorrupt, len(v)), "stable")
	}
	return binary.BigEndian.Uint64(v), nil
}
