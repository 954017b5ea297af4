package raftnode_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/zraft/zraft/adapters/raftnode"
	"github.com/zraft/zraft/adapters/raftnode/raftnodetest"
)

// newestSnapshotDir returns the newest snapshot directory under a member's data dir
// (raft's file snapshot store keeps them in <data>/snapshots/snapshots) and its term
// and index, parsed from its name <term>-<index>-<time>.
func newestSnapshotDir(t *testing.T, dataDir string) (path string, term, index uint64) {
	t.Helper()
	dir := filepath.Join(dataDir, "snapshots", "snapshots")
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		p := strings.SplitN(e.Name(), "-", 3)
		if !e.IsDir() || len(p) != 3 || strings.HasSuffix(e.Name(), ".tmp") {
			continue
		}
		tm, err1 := strconv.ParseUint(p[0], 10, 64)
		ix, err2 := strconv.ParseUint(p[1], 10, 64)
		if err1 == nil && err2 == nil && (tm > term || tm == term && ix > index) {
			path, term, index = filepath.Join(dir, e.Name()), tm, ix
		}
	}
	if path == "" {
		t.Fatalf("no snapshot directory in %s", dir)
	}
	return path, term, index
}

// A snapshot directory copied from a running member, put alone into every member's
// emptied data dir, restores the state at its index; the members continue in a term
// above the snapshot's, although the copy has no stored term.
func TestRestoreFromSnapshotCopyOnly(t *testing.T) {
	checkNoLeaks(t)
	ctx := ctxFor(t, 120*time.Second)
	c := raftnodetest.New(t, raftnodetest.Options{Configure: func(cfg *raftnode.Config) {
		cfg.SnapshotThreshold = 32
		cfg.SnapshotInterval = 50 * time.Millisecond
	}})
	indexOf := map[string]uint64{}
	for i := range 60 {
		k := fmt.Sprintf("k%d", i)
		res, err := c.Propose(ctx, raftnodetest.SetCmd(k, k))
		if err != nil {
			t.Fatal(err)
		}
		indexOf[k] = res.(uint64)
	}
	src := c.Members()[1]
	for src.Node().Stats().LastSnapshotIndex == 0 {
		select {
		case <-ctx.Done():
			t.Fatal("no snapshot was taken")
		case <-time.After(20 * time.Millisecond):
		}
	}
	snap, snapTerm, snapIndex := newestSnapshotDir(t, src.Dir)
	backup := filepath.Join(t.TempDir(), filepath.Base(snap))
	copyTree(t, snap, backup) // while the member runs
	res, err := c.Propose(ctx, raftnodetest.SetCmd("after", "after"))
	if err != nil {
		t.Fatal(err)
	}
	indexOf["after"] = res.(uint64)
	t.Logf("snapshot term %d index %d; last write at %d", snapTerm, snapIndex, indexOf["after"])

	for _, m := range c.Members() {
		c.Kill(m) // all of them first: none may meet a member still holding later entries
	}
	for _, m := range c.Members() {
		if err := os.RemoveAll(m.Dir); err != nil {
			t.Fatal(err)
		}
		copyTree(t, backup, filepath.Join(m.Dir, "snapshots", "snapshots", filepath.Base(backup)))
		c.Restart(m)
		// Before any election (heartbeat timeout 1.5 s): the term raft starts from.
		if term := m.Node().Stats().Term; term < snapTerm {
			t.Errorf("%s starts in term %d, below the snapshot's %d", m.ID, term, snapTerm)
		}
	}
	leader, err := c.WaitLeader(ctx)
	if err != nil {
		t.Fatal(err)
	}
	term := leader.Node().Stats().Term
	t.Logf("restored cluster's leader %s in term %d", leader.ID, term)
	if term <= snapTerm {
		t.Errorf("restored cluster leads in term %d, want above the snapshot's %d", term, snapTerm)
	}
	res, err = leader.Node().Propose(ctx, raftnodetest.SetCmd("restored", "restored"))
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range c.Members() {
		if err := c.WaitApplied(ctx, m, res.(uint64)); err != nil {
			t.Fatal(err)
		}
		for k, ix := range indexOf {
			v, ok := m.Get(k)
			if want := ix <= snapIndex; ok != want || ok && v != k {
				t.Errorf("%s: %s (index %d, snapshot %d) = %q,%v", m.ID, k, ix, snapIndex, v, ok)
			}
		}
		mustGet(t, m, "restored", "restored")
	}
}
