package server

import (
	"fmt"
	"log/slog"
	"os"

	"github.com/zraft/zraft/adapters/raftnode"
)

// pebbleStores is raftnode.PebbleStores (Raft log and stable store in one Pebble database
// under <dataDir>/raft, snapshot files under <dataDir>/snapshots) with the data dir made
// first as 0o750: Pebble would create it 0o755, readable by every local user.
func pebbleStores(retain int, logger *slog.Logger) raftnode.StoreFactory {
	open := raftnode.PebbleStores(retain, logger)
	return func(dataDir string) (raftnode.Stores, error) {
		if err := os.MkdirAll(dataDir, 0o750); err != nil {
			return raftnode.Stores{}, fmt.Errorf("server: data dir: %w", err)
		}
		return open(dataDir)
	}
}
