package server

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/hashicorp/raft"

	"github.com/zraft/zraft/adapters/pebblestore"
	"github.com/zraft/zraft/adapters/raftnode"
)

// pebbleStores opens a member's durable stores: the Raft log and stable store in one
// Pebble database under <dataDir>/raft and snapshot files under <dataDir>/snapshots.
func pebbleStores(retain int, logger *slog.Logger) raftnode.StoreFactory {
	return func(dataDir string) (raftnode.Stores, error) {
		if err := os.MkdirAll(dataDir, 0o750); err != nil {
			return raftnode.Stores{}, fmt.Errorf("server: data dir: %w", err)
		}
		db, err := pebblestore.Open(filepath.Join(dataDir, "raft"), pebblestore.WithLogger(logger))
		if err != nil {
			return raftnode.Stores{}, fmt.Errorf("server: open log store: %w", err)
		}
		snaps, err := raft.NewFileSnapshotStore(filepath.Join(dataDir, "snapshots"), retain,
			logWriter{logger.With("component", "raft-snapshots")})
		if err != nil {
			return raftnode.Stores{}, errors.Join(fmt.Errorf("server: open snapshot store: %w", err), db.Close())
		}
		return raftnode.Stores{Log: db, Stable: db, Snapshots: snaps, Close: db.Close}, nil
	}
}

// logWriter forwards the snapshot store's log lines to slog.
type logWriter struct{ log *slog.Logger }

func (w logWriter) Write(p []byte) (int, error) {
	w.log.Info(strings.TrimSpace(string(p)))
	return len(p), nil
}
