package raftnode

import (
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"

	"github.com/hashicorp/raft"

	"github.com/zraft/zraft/adapters/pebblestore"
)

// PebbleStores is the default StoreFactory: the log and stable store in one Pebble
// database under <dataDir>/raft (synced writes, one fsync per StoreLogs) and
// raft.FileSnapshotStore under <dataDir>/snapshots keeping retain snapshots.
func PebbleStores(retain int, logger *slog.Logger) StoreFactory {
	return func(dataDir string) (Stores, error) {
		if dataDir == "" {
			return Stores{}, fmt.Errorf("%w: DataDir is required for the default stores", ErrInvalidConfig)
		}
		db, err := pebblestore.Open(filepath.Join(dataDir, "raft"), pebblestore.WithLogger(logger))
		if err != nil {
			return Stores{}, fmt.Errorf("raftnode: open log store: %w", err)
		}
		snaps, err := raft.NewFileSnapshotStoreWithLogger(filepath.Join(dataDir, "snapshots"), retain,
			newHclogAdapter(logger.With("component", "raft-snapshots"), slog.LevelWarn))
		if err != nil {
			return Stores{}, errors.Join(fmt.Errorf("raftnode: open snapshot store: %w", err), db.Close())
		}
		return Stores{Log: db, Stable: db, Snapshots: snaps, Close: db.Close}, nil
	}
}
