package pebblestore

import (
	"encoding/binary"
	"fmt"
)

// Key layout. One byte of prefix separates the key spaces so that log entries
// form one contiguous, ordered range (big-endian indexes sort numerically) and
// a range deletion or a bounded iterator over logs never touches stable keys.
const (
	prefixMeta   byte = 0x00 // store metadata (format version)
	prefixLog    byte = 0x01 // prefixLog + uint64 big-endian index -> entry
	prefixStable byte = 0x02 // prefixStable + raft's key bytes -> stable value
	logKeyLen         = 9
)

var (
	// keyFormat holds the on-disk format version of the whole store.
	keyFormat = []byte{prefixMeta, 'f', 'o', 'r', 'm', 'a', 't'}
	// logLower and logUpper bound the log key space: [logLower, logUpper).
	logLower = []byte{prefixLog}
	logUpper = []byte{prefixLog + 1}
)

// storeFormat is the value kept under keyFormat.
const storeFormat = 1

func logKey(index uint64) []byte {
	k := make([]byte, logKeyLen)
	k[0] = prefixLog
	binary.BigEndian.PutUint64(k[1:], index)
	return k
}

// logKeyEnd is the exclusive upper key of a range ending at index, inclusive.
func logKeyEnd(index uint64) []byte {
	if index == ^uint64(0) {
		return logUpper
	}
	return logKey(index + 1)
}

func parseLogKey(k []byte) (uint64, error) {
	if len(k) != logKeyLen || k[0] != prefixLog {
		return 0, fmt.Errorf("%w: malformed log key %x", ErrCorrupt, k)
	}
	return binary.BigEndian.Uint64(k[1:]), nil
}

func stableKey(key []byte) []byte {
	k := make([]byte, 0, 1+len(key))
	return append(append(k, prefixStable), key...)
}
