package pebblestore

import (
	"encoding/binary"
	"errors"
	"io"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
)

// counterFSM sums the uint64s of the commands it applies, in order.
type counterFSM struct {
	mu      sync.Mutex
	applied uint64 // index of the last entry applied
	count   int
	sum     uint64
}

func (f *counterFSM) Apply(l *raft.Log) any {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.applied = l.Index
	f.count++
	f.sum += binary.BigEndian.Uint64(l.Data)
	return nil
}

func (f *counterFSM) state() (int, uint64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.count, f.sum
}

func (f *counterFSM) Snapshot() (raft.FSMSnapshot, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return counterSnapshot{count: f.count, sum: f.sum}, nil
}

func (f *counterFSM) Restore(rc io.ReadCloser) error {
	defer rc.Close()
	var b [16]byte
	if _, err := io.ReadFull(rc, b[:]); err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.count, f.sum = int(binary.BigEndian.Uint64(b[:8])), binary.BigEndian.Uint64(b[8:])
	return nil
}

type counterSnapshot struct {
	count int
	sum   uint64
}

func (s counterSnapshot) Persist(sink raft.SnapshotSink) error {
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], uint64(s.count))
	binary.BigEndian.PutUint64(b[8:], s.sum)
	if _, err := sink.Write(b[:]); err != nil {
		return errors.Join(err, sink.Cancel())
	}
	return sink.Close()
}

func (counterSnapshot) Release() {}

// startRaft runs a single-voter raft on a store in dir and waits until it leads.
func startRaft(t *testing.T, dir string, bootstrap bool) (*raft.Raft, *Store, *counterFSM) {
	t.Helper()
	store, err := Open(filepath.Join(dir, "raft"), WithLogger(quietLogger))
	if err != nil {
		t.Fatal(err)
	}
	snaps, err := raft.NewFileSnapshotStore(dir, 2, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	conf := raft.DefaultConfig()
	conf.LocalID = "n1"
	conf.Logger = hclog.NewNullLogger()
	conf.SnapshotThreshold = 1 << 30 // snapshots only when the test asks
	conf.TrailingLogs = 10
	addr, trans := raft.NewInmemTransport("n1")
	fsm := &counterFSM{}
	r, err := raft.NewRaft(conf, fsm, store, store, snaps, trans)
	if err != nil {
		t.Fatal(err)
	}
	if bootstrap {
		cfg := raft.Configuration{Servers: []raft.Server{{ID: "n1", Address: addr}}}
		if err := r.BootstrapCluster(cfg).Error(); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(30 * time.Second)
	for r.State() != raft.Leader {
		if time.Now().After(deadline) {
			t.Fatalf("no leader after 30 s: %v", r.State())
		}
		time.Sleep(10 * time.Millisecond)
	}
	return r, store, fsm
}

func stopRaft(t *testing.T, r *raft.Raft, s *Store) {
	t.Helper()
	if err := r.Shutdown().Error(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
}

func applyN(t *testing.T, r *raft.Raft, from, n int) {
	t.Helper()
	for i := from; i < from+n; i++ {
		cmd := binary.BigEndian.AppendUint64(nil, uint64(i))
		if err := r.Apply(cmd, 30*time.Second).Error(); err != nil {
			t.Fatalf("apply %d: %v", i, err)
		}
	}
}

func waitFSM(t *testing.T, fsm *counterFSM, count int, sum uint64) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		c, s := fsm.state()
		if c == count && s == sum {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("FSM has %d commands summing to %d, want %d summing to %d", c, s, count, sum)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestRaftOnStore runs real hashicorp/raft on the store: bootstrap on an empty
// store (raft's "not found" checks), commands, a restart that replays the log,
// a snapshot whose log compaction goes through DeleteRange, and a restart
// from snapshot plus trailing log.
func TestRaftOnStore(t *testing.T) {
	checkNoGoroutineLeak(t, func() {
		dir := t.TempDir()
		sumTo := func(n int) uint64 { return uint64(n * (n - 1) / 2) }

		r, s, fsm := startRaft(t, dir, true)
		applyN(t, r, 0, 50)
		waitFSM(t, fsm, 50, sumTo(50))
		stopRaft(t, r, s)

		r, s, fsm = startRaft(t, dir, false)
		waitFSM(t, fsm, 50, sumTo(50)) // replayed from the log
		applyN(t, r, 50, 50)
		if err := r.Snapshot().Error(); err != nil {
			t.Fatalf("snapshot: %v", err)
		}
		first, _ := s.FirstIndex()
		last, _ := s.LastIndex()
		if first <= 1 || last-first+1 > 20 {
			t.Fatalf("after a snapshot with TrailingLogs 10, the log is [%d, %d]", first, last)
		}
		stopRaft(t, r, s)

		r, s, fsm = startRaft(t, dir, false)
		waitFSM(t, fsm, 100, sumTo(100)) // snapshot restored, nothing applied twice
		applyN(t, r, 100, 10)
		waitFSM(t, fsm, 110, sumTo(110))
		t.Logf("store after restarts: %+v", s.Stats())
		stopRaft(t, r, s)
	})
}
