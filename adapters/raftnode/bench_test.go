package raftnode_test

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/zraft/zraft/adapters/pebblestore"
	"github.com/zraft/zraft/adapters/raftnode"
	"github.com/zraft/zraft/adapters/raftnode/raftnodetest"
)

// BenchmarkPropose: 3 members on 127.0.0.1 with Pebble on disk (synced writes), P
// concurrent proposers of 100-byte commands; one op is one committed and applied
// command. It reports commits/s, p50/p99 latency, and on the leader the log entries per
// StoreLogs call and per Pebble WAL sync. "unbatched" forces one entry per append
// (MaxAppendEntries=1, ProposalBatch=1), to show what batching buys.
func BenchmarkPropose(b *testing.B) {
	for _, bc := range []struct {
		name      string
		proposers int
		unbatched bool
	}{
		{"proposers=1", 1, false},
		{"proposers=64", 64, false},
		{"proposers=64/unbatched", 64, true},
	} {
		b.Run(bc.name, func(b *testing.B) { benchPropose(b, bc.proposers, bc.unbatched) })
	}
}

func benchPropose(b *testing.B, proposers int, unbatched bool) {
	var mu sync.Mutex
	dbs := map[string]*pebblestore.Store{}
	c := raftnodetest.New(b, raftnodetest.Options{
		Stores: func(dir string) (raftnode.Stores, error) {
			db, err := pebblestore.Open(filepath.Join(dir, "raft"))
			if err != nil {
				return raftnode.Stores{}, err
			}
			snaps, err := raft.NewFileSnapshotStore(filepath.Join(dir, "snapshots"), 2, io.Discard)
			if err != nil {
				return raftnode.Stores{}, err
			}
			mu.Lock()
			dbs[dir] = db
			mu.Unlock()
			return raftnode.Stores{Log: db, Stable: db, Snapshots: snaps, Close: db.Close}, nil
		},
		Configure: func(cfg *raftnode.Config) {
			if unbatched {
				cfg.MaxAppendEntries = 1
				cfg.ProposalBatch = 1
			}
		},
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	leader, err := c.WaitLeader(ctx)
	if err != nil {
		b.Fatal(err)
	}
	value := string(make([]byte, 100-3-8)) // SetCmd adds 3 bytes; keys are 8
	node := leader.Node()
	st0 := node.Stats()
	mu.Lock()
	db := dbs[leader.Dir]
	mu.Unlock()
	ps0 := db.Stats()

	var next atomic.Int64
	lat := make([][]time.Duration, proposers)
	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	for w := 0; w < proposers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1)
				if i > int64(b.N) {
					return
				}
				t0 := time.Now()
				if _, err := node.Propose(ctx, raftnodetest.SetCmd(fmt.Sprintf("%08d", i%100000000), value)); err != nil {
					b.Error(err)
					return
				}
				lat[w] = append(lat[w], time.Since(t0))
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	b.StopTimer()
	st1, ps1 := node.Stats(), db.Stats()
	all := slices.Concat(lat...)
	slices.Sort(all)
	if len(all) == 0 {
		return
	}
	pct := func(p float64) float64 { return float64(all[int(p*float64(len(all)-1))].Microseconds()) / 1000 }
	b.ReportMetric(float64(len(all))/elapsed.Seconds(), "commits/s")
	b.ReportMetric(pct(0.50), "p50-ms")
	b.ReportMetric(pct(0.99), "p99-ms")
	if calls := st1.StoreCalls - st0.StoreCalls; calls > 0 {
		b.ReportMetric(float64(st1.StoredEntries-st0.StoredEntries)/float64(calls), "entries/append")
	}
	if syncs := ps1.WALSyncs - ps0.WALSyncs; syncs > 0 {
		b.ReportMetric(float64(ps1.Entries-ps0.Entries)/float64(syncs), "entries/fsync")
	}
}
