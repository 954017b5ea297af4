package pebblestore

import (
	"fmt"
	"testing"

	"github.com/hashicorp/raft"
	raftbench "github.com/hashicorp/raft/bench"
)

// benchStores are the stores hashicorp/raft's store benchmarks run against:
// this package's, and raft's in-memory store as the floor.
var benchStores = []struct {
	name string
	open func(b *testing.B) contractStore
}{
	{"pebble", func(b *testing.B) contractStore { return openTestStore(b, b.TempDir()) }},
	{"inmem", func(*testing.B) contractStore { return raft.NewInmemStore() }},
}

func BenchmarkRaftStore(b *testing.B) {
	logBenches := []struct {
		name string
		fn   func(*testing.B, raft.LogStore)
	}{
		{"FirstIndex", raftbench.FirstIndex},
		{"LastIndex", raftbench.LastIndex},
		{"GetLog", raftbench.GetLog},
		{"StoreLog", raftbench.StoreLog},
		{"StoreLogs", raftbench.StoreLogs},
		{"DeleteRange", raftbench.DeleteRange},
	}
	stableBenches := []struct {
		name string
		fn   func(*testing.B, raft.StableStore)
	}{
		{"Set", raftbench.Set},
		{"Get", raftbench.Get},
		{"SetUint64", raftbench.SetUint64},
		{"GetUint64", raftbench.GetUint64},
	}
	for _, st := range benchStores {
		for _, bb := range logBenches {
			b.Run(st.name+"/"+bb.name, func(b *testing.B) { bb.fn(b, st.open(b)) })
		}
		for _, bb := range stableBenches {
			b.Run(st.name+"/"+bb.name, func(b *testing.B) { bb.fn(b, st.open(b)) })
		}
	}
}

// BenchmarkStoreLogsBatch appends batches of raft-sized entries and reports
// WAL syncs per StoreLogs call (the durability cost; it must be 1) and all
// syncs per call (WAL plus any flush or compaction in the period).
func BenchmarkStoreLogsBatch(b *testing.B) {
	for _, size := range []int{1, 16, 128} {
		b.Run(fmt.Sprintf("entries=%d", size), func(b *testing.B) {
			s := openTestStore(b, b.TempDir())
			data := patterned(256, 1)
			logs := make([]*raft.Log, size)
			for i := range logs {
				logs[i] = &raft.Log{Term: 1, Type: raft.LogCommand, Data: data}
			}
			next := uint64(1)
			start := s.Stats()
			b.SetBytes(int64(size * len(data)))
			b.ResetTimer()
			for range b.N {
				for _, l := range logs {
					l.Index = next
					next++
				}
				if err := s.StoreLogs(logs); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			st := s.Stats()
			b.ReportMetric(float64(st.WALSyncs-start.WALSyncs)/float64(b.N), "walsyncs/op")
			b.ReportMetric(float64(st.Syncs-start.Syncs)/float64(b.N), "syncs/op")
			b.ReportMetric(float64(size)*float64(b.N)/b.Elapsed().Seconds(), "entries/s")
		})
	}
}
