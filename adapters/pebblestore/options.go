package pebblestore

import (
	"fmt"
	"log/slog"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/vfs"
)

// Defaults sized for a Raft log: writes are appends that are read back soon
// (by replication, from the memtable) or rarely (by a lagging follower), so a
// small block cache suffices and the memtable absorbs bursts of appends.
const (
	// DefaultCacheSize is the block cache size when WithCacheSize is not given.
	DefaultCacheSize = 8 << 20
	// DefaultMemTableSize is the memtable size when WithMemTableSize is not given.
	DefaultMemTableSize = 16 << 20
)

// Option configures Open.
type Option func(*config)

type config struct {
	logger       *slog.Logger
	cacheSize    int64
	memTableSize uint64
	fs           vfs.FS
}

// WithLogger sets the logger for the store and for Pebble's own messages
// (Pebble's informational messages are logged at debug level). The default
// is slog.Default().
func WithLogger(l *slog.Logger) Option {
	return func(c *config) {
		if l != nil {
			c.logger = l
		}
	}
}

// WithCacheSize sets Pebble's block cache size in bytes (default DefaultCacheSize).
func WithCacheSize(bytes int64) Option {
	return func(c *config) { c.cacheSize = bytes }
}

// WithMemTableSize sets Pebble's memtable size in bytes (default
// DefaultMemTableSize). Pebble requires it to be below 4 GiB.
func WithMemTableSize(bytes uint64) Option {
	return func(c *config) { c.memTableSize = bytes }
}

// withFS puts the store on another file system; tests use an in-memory one
// that can simulate power loss.
func withFS(fs vfs.FS) Option {
	return func(c *config) { c.fs = fs }
}

func newConfig(opts []Option) config {
	c := config{
		logger:       slog.Default(),
		cacheSize:    DefaultCacheSize,
		memTableSize: DefaultMemTableSize,
		fs:           vfs.Default,
	}
	for _, o := range opts {
		o(&c)
	}
	return c
}

// pebbleOptions returns the Pebble options for a store. Everything not set
// here is Pebble's default; see docs/storage.md for the reasoning.
func (c config) pebbleOptions(fs vfs.FS) *pebble.Options {
	o := &pebble.Options{
		FS:           fs,
		CacheSize:    c.cacheSize,
		MemTableSize: c.memTableSize,
		// The newest stable format: range deletions (log compaction) and
		// everything else we use are supported by every version; a fixed
		// choice keeps a new store's on-disk format predictable.
		FormatMajorVersion: pebble.FormatNewest,
		Logger:             pebbleLogger{c.logger},
		// WAL stays on (DisableWAL false): it is the durability of every
		// acknowledged write. WALBytesPerSync stays 0: each commit syncs
		// explicitly, background syncs would only add I/O.
	}
	return o
}

// pebbleLogger routes Pebble's log output to slog.
type pebbleLogger struct{ l *slog.Logger }

func (p pebbleLogger) Infof(format string, args ...any) {
	p.l.Debug(fmt.Sprintf(format, args...), "component", "pebble")
}

func (p pebbleLogger) Errorf(format string, args ...any) {
	p.l.Error(fmt.Sprintf(format, args...), "component", "pebble")
}

// Fatalf must not return (Pebble's contract): it logs, then panics, so the
// failure is visible with a stack rather than an exit without one.
func (p pebbleLogger) Fatalf(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	p.l.Error(msg, "component", "pebble", "fatal", true)
	panic("pebblestore: pebble fatal: " + msg)
}
