package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/zraft/zraft/server"
)

// docs/operations.md, "Replace a member": remove the member on the leader, empty its data
// dir, start it with --join; it is added again under its id and address and catches up
// from the leader. (Putting an old copy of its data dir back in its place instead would
// make it forget entries it acknowledged, and its votes, so that with one more failure
// before it caught up a committed write could be lost.)
func TestBackupReplaceMemberByRejoining(t *testing.T) {
	if testing.Short() {
		t.Skip("runs three zraftd processes")
	}
	bkCheckNoLeaks(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c := newBkCluster(t)
	_, k := c.dial(ctx)
	bkSet(t, ctx, k, "before", "1")
	f := c.follower(ctx)
	c.stop(f)
	c.remove(ctx, f.id)
	bkSet(t, ctx, k, "while-removed", "2")
	if err := os.RemoveAll(f.data); err != nil {
		t.Fatal(err)
	}
	var join []string
	for _, m := range c.ms {
		if m != f {
			join = append(join, m.admin)
		}
	}
	c.start(f, "--join", strings.Join(join, ","))
	waitReady(t, f.admin, f.p)
	_, lst := c.leader(ctx)
	bkWaitStatus(t, ctx, f, "a voter again, caught up", func(st server.ClusterStatus) bool {
		voter := false
		for _, m := range st.Members {
			voter = voter || m.ID == f.id && m.RaftAddr == f.raft
		}
		return voter && len(st.Members) == 3 && st.AppliedIndex >= lst.CommitIndex
	})
	// With the third member stopped, a write commits only if the rejoined one takes it.
	for _, m := range c.ms {
		if m != f {
			c.stop(m)
			break
		}
	}
	bkSet(t, ctx, k, "with-rejoined", "3")
	for key, v := range map[string]string{"before": "1", "while-removed": "2", "with-rejoined": "3"} {
		bkExpect(t, ctx, k, key, v)
	}
}

// docs/operations.md, "Restore the cluster": every member loses its data; the copy of
// one follower's data dir is put on every member (same ids and Raft addresses). The
// state is the copy's: writes after the backup are gone. A session created before the
// backup whose client comes back within the grace period continues; one whose timeout
// passed while the cluster was down (its client closed it after the backup, so the copy
// still holds it) is expired after the new leader's grace period, not before.
func TestBackupRestoreCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("runs three zraftd processes")
	}
	const sessionTimeout, grace = 4 * time.Second, 6 * time.Second
	bkCheckNoLeaks(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c := newBkCluster(t, "--session-timeout", sessionTimeout.String(), "--leader-grace", grace.String())
	keeper, kk := c.dial(ctx)
	gone, kg := c.dial(ctx)
	bkSet(t, ctx, kk, "before", "1")
	bkSet(t, ctx, kg, "before-gone", "2")
	st, err := keeper.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	session := st.SessionID

	f := c.follower(ctx)
	c.stop(f)
	backup := filepath.Join(t.TempDir(), "backup")
	bkCopyTree(t, f.data, backup)
	backupAt := time.Now()
	c.start(f)
	waitReady(t, f.admin, f.p)
	bkSet(t, ctx, kk, "after", "3")
	if err := gone.Close(ctx); err != nil {
		t.Fatal(err)
	}
	l, _ := c.leader(ctx)
	bkWaitStatus(t, ctx, l, "one session", func(st server.ClusterStatus) bool { return st.Sessions == 1 })

	// All data lost; the copy goes on every member.
	for _, m := range c.ms {
		c.kill(m)
		bkReplaceDir(t, backup, m.data)
	}
	// The closed session's timeout passes while the cluster is down.
	time.Sleep(time.Until(backupAt.Add(sessionTimeout + time.Second)))
	for _, m := range c.ms {
		c.start(m)
	}
	// The sessions as soon as a leader serves (the grace runs from its first entry).
	l, lst := c.leader(ctx)
	readyAt := time.Now()
	c.startAll() // waits until every member is ready
	if lst.Sessions != 2 {
		t.Errorf("restored leader has %d sessions, want the copy's 2", lst.Sessions)
	}
	bkExpect(t, ctx, kk, "before", "1")
	bkExpect(t, ctx, kk, "before-gone", "2")
	bkExpect(t, ctx, kk, "after", "") // written after the backup
	bkSet(t, ctx, kk, "restored", "4")
	if st, err := keeper.Status(ctx); err != nil || st.SessionID != session {
		t.Errorf("session %q (%v), want the one created before the backup, %q", st.SessionID, err, session)
	}
	bkWaitStatus(t, ctx, l, "the closed session expired", func(st server.ClusterStatus) bool { return st.Sessions == 1 })
	t.Logf("the session closed after the backup expired %v after the restored cluster was ready (grace %v)", time.Since(readyAt).Round(time.Millisecond), grace)
	bkSet(t, ctx, kk, "still", "5") // the kept session survived the grace period's end
	bkExpect(t, ctx, kk, "still", "5")
}

// docs/operations.md: a copy of the newest snapshot directory (<data>/snapshots/snapshots/
// <term>-<index>-<time>), taken while the member runs, is a backup of the state at that
// index. Restored alone on every member (an empty data dir holding only that directory,
// at the same place), the cluster
// serves the state at that index, without what was written after it, and continues in a
// term above the snapshot's.
//
// zraftd snapshots every 8,192 entries, checked every 30-60 s by default; the test runs
// the members with --snapshot-threshold 64 --snapshot-interval 200ms.
func TestBackupRestoreLiveSnapshotCopy(t *testing.T) {
	if testing.Short() {
		t.Skip("runs three zraftd processes")
	}
	const threshold = 64
	bkCheckNoLeaks(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c := newBkCluster(t, "--snapshot-threshold", strconv.Itoa(threshold), "--snapshot-interval", "200ms")
	_, k := c.dial(ctx)
	bkSet(t, ctx, k, "before", "1")

	// Enough entries for a snapshot, written by concurrent callers on one session.
	l, _ := c.leader(ctx)
	f := c.follower(ctx)
	var (
		wg     sync.WaitGroup
		mu     sync.Mutex
		werr   error
		stopCh = make(chan struct{})
	)
	for w := range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stopCh:
					return
				default:
				}
				if err := k.Set(ctx, fmt.Sprintf("bulk-%d-%d", w, i), strings.Repeat("v", 32)); err != nil {
					mu.Lock()
					werr = errors.Join(werr, err)
					mu.Unlock()
					return
				}
			}
		}()
	}
	bkWaitStatus(t, ctx, l, fmt.Sprintf("last index above %d", threshold+64), func(st server.ClusterStatus) bool {
		return st.LastIndex > threshold+64
	})
	close(stopCh)
	wg.Wait()
	if werr != nil {
		t.Fatalf("bulk writes: %v", werr)
	}
	fst := bkWaitStatus(t, ctx, f, "a snapshot", func(st server.ClusterStatus) bool { return st.LastSnapshotIndex > 0 })

	// Copy the newest snapshot directory while the follower runs. raft's file snapshot
	// store keeps them in a "snapshots" directory of its own, under the data dir's.
	snapDir := filepath.Join(f.data, "snapshots", "snapshots")
	snaps, err := os.ReadDir(snapDir)
	if err != nil {
		t.Fatal(err)
	}
	var newest string
	var newestTerm, newestIndex uint64
	for _, d := range snaps {
		p := strings.SplitN(d.Name(), "-", 3)
		if !d.IsDir() || len(p) != 3 || strings.HasSuffix(d.Name(), ".tmp") {
			continue
		}
		term, err1 := strconv.ParseUint(p[0], 10, 64)
		index, err2 := strconv.ParseUint(p[1], 10, 64)
		if err1 != nil || err2 != nil {
			continue
		}
		if term > newestTerm || term == newestTerm && index > newestIndex {
			newest, newestTerm, newestIndex = d.Name(), term, index
		}
	}
	if newest == "" {
		t.Fatalf("no snapshot directory in %v (last_snapshot_index %d)", snaps, fst.LastSnapshotIndex)
	}
	backup := filepath.Join(t.TempDir(), "snapshot-copy")
	bkCopyTree(t, filepath.Join(snapDir, newest), filepath.Join(backup, newest))
	t.Logf("copied snapshot %s of %s (last index %d then)", newest, f.id, fst.LastIndex)
	bkSet(t, ctx, k, "after", "2")
	if _, st := c.leader(ctx); st.CommitIndex <= newestIndex {
		t.Fatalf("the write after the copy is at or below the snapshot's index %d", newestIndex)
	}

	// Restore every member from the snapshot copy alone.
	for _, m := range c.ms {
		c.kill(m)
		if err := os.RemoveAll(m.data); err != nil {
			t.Fatal(err)
		}
		bkCopyTree(t, backup, filepath.Join(m.data, "snapshots", "snapshots"))
	}
	c.startAll()
	_, lst := c.leader(ctx)
	bkExpect(t, ctx, k, "before", "1")
	bkExpect(t, ctx, k, "after", "")
	bkSet(t, ctx, k, "restored", "3")
	bkExpect(t, ctx, k, "restored", "3")
	if lst.Term <= newestTerm {
		t.Errorf("the restored cluster's term is %d, not above the snapshot's %d: its new entries follow entries of a higher term", lst.Term, newestTerm)
	}
	var members []string
	for _, m := range lst.Members {
		members = append(members, m.ID)
	}
	if !slices.Equal(members, []string{"node-1", "node-2", "node-3"}) {
		t.Errorf("restored members %v", members)
	}
}
