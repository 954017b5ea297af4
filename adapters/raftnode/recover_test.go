package raftnode_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/zraft/zraft/adapters/raftnode"
	"github.com/zraft/zraft/adapters/raftnode/raftnodetest"
)

// copyTree copies the directory src to dst (which must not exist), files and modes.
func copyTree(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, path)
		if err != nil {
			return err
		}
		target := filepath.Join(dst, rel)
		info, err := d.Info()
		if err != nil {
			return err
		}
		if d.IsDir() {
			return os.MkdirAll(target, info.Mode().Perm())
		}
		in, err := os.Open(path)
		if err != nil {
			return err
		}
		defer in.Close()
		out, err := os.OpenFile(target, os.O_CREATE|os.O_EXCL|os.O_WRONLY, info.Mode().Perm())
		if err != nil {
			return err
		}
		if _, err := io.Copy(out, in); err != nil {
			_ = out.Close()
			return err
		}
		return out.Close()
	})
	if err != nil {
		t.Fatalf("copy %s to %s: %v", src, dst, err)
	}
}

// freeAddr returns a 127.0.0.1 address whose port was free a moment ago (a recovered
// configuration needs the addresses before the members start).
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func quietLogger() *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// recoveredMember is a member started on a recovered data dir.
type recoveredMember struct {
	m    raftnode.Member
	kv   *raftnodetest.KV
	node *raftnode.Node
}

// recoverAndStart copies src once per member, recovers each copy with members and
// starts the members as runAs (same ids and addresses; the client endpoint may differ)
// without Bootstrap, as a restart would.
func recoverAndStart(t *testing.T, src string, members, runAs []raftnode.Member) []*recoveredMember {
	t.Helper()
	var out []*recoveredMember
	for i, m := range members {
		dir := filepath.Join(t.TempDir(), m.ID)
		copyTree(t, src, dir)
		cfg := raftnode.Config{MemberID: m.ID, DataDir: dir, Logger: quietLogger()}
		if err := raftnode.RecoverCluster(cfg, raftnodetest.NewKV(), members); err != nil {
			t.Fatalf("recover %s: %v", m.ID, err)
		}
		m = runAs[i]
		cfg.BindAddr = m.RaftAddr
		cfg.ClientEndpoint = m.ClientEndpoint
		raftnodetest.FastConfig(&cfg)
		kv := raftnodetest.NewKV()
		n, err := raftnode.New(cfg, kv)
		if err != nil {
			t.Fatalf("start %s: %v", m.ID, err)
		}
		t.Cleanup(func() { _ = n.Close() })
		out = append(out, &recoveredMember{m: m, kv: kv, node: n})
	}
	return out
}

func waitRecoveredLeader(t *testing.T, ctx context.Context, ms []*recoveredMember) *recoveredMember {
	t.Helper()
	for {
		var leaders []*recoveredMember
		for _, r := range ms {
			if r.node.IsLeader() {
				leaders = append(leaders, r)
			}
		}
		if len(leaders) == 1 {
			return leaders[0]
		}
		select {
		case <-ctx.Done():
			t.Fatalf("no single leader among the recovered members (%d)", len(leaders))
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// checkRecovered checks that every recovered member serves want, knows exactly the
// recovered configuration, and that the cluster commits new commands.
func checkRecovered(t *testing.T, ctx context.Context, ms []*recoveredMember, members []raftnode.Member, want map[string]string) {
	t.Helper()
	leader := waitRecoveredLeader(t, ctx, ms)
	if err := leader.node.Bootstrap(ctx); !errors.Is(err, raftnode.ErrAlreadyBootstrapped) {
		t.Errorf("Bootstrap on a recovered data dir: %v, want ErrAlreadyBootstrapped", err)
	}
	res, err := leader.node.Propose(ctx, raftnodetest.SetCmd("after-recovery", "yes"))
	if err != nil {
		t.Fatalf("propose on the recovered cluster: %v", err)
	}
	want["after-recovery"] = "yes"
	last := res.(uint64)
	sorted := slices.Clone(members)
	slices.SortFunc(sorted, func(a, b raftnode.Member) int {
		switch {
		case a.ID < b.ID:
			return -1
		case a.ID > b.ID:
			return 1
		}
		return 0
	})
	for _, r := range ms {
		for r.node.Stats().AppliedIndex < last {
			select {
			case <-ctx.Done():
				t.Fatalf("%s did not apply %d", r.m.ID, last)
			case <-time.After(20 * time.Millisecond):
			}
		}
		err := r.node.Read(ctx, raftnode.Stale, func() {
			if r.kv.Len() != len(want) {
				t.Errorf("%s: %d keys, want %d", r.m.ID, r.kv.Len(), len(want))
			}
			for k, v := range want {
				if got, ok := r.kv.Get(k); !ok || got != v {
					t.Errorf("%s: %s = %q,%v; want %q", r.m.ID, k, got, ok, v)
				}
			}
		})
		if err != nil {
			t.Fatal(err)
		}
		if got := r.node.Members(); !slices.Equal(got, sorted) {
			t.Errorf("%s: members %+v, want %+v", r.m.ID, got, sorted)
		}
		if id, ep := r.node.Leader(); id != leader.m.ID || ep != leader.m.ClientEndpoint {
			t.Errorf("%s: leader hint %q %q, want %q %q", r.m.ID, id, ep, leader.m.ID, leader.m.ClientEndpoint)
		}
	}
}

// A 3-member cluster's data dir, copied after it stopped (a snapshot and log entries
// after it), is restored as a cluster of 3 new ids and addresses and as a 1-member
// cluster; both serve the old state and accept new commands.
func TestRecoverClusterOntoNewMembers(t *testing.T) {
	checkNoLeaks(t)
	ctx := ctxFor(t, 120*time.Second)
	threshold := uint64(32)
	c := raftnodetest.New(t, raftnodetest.Options{Configure: func(cfg *raftnode.Config) {
		cfg.SnapshotThreshold = threshold
		cfg.SnapshotInterval = 50 * time.Millisecond
		cfg.TrailingLogs = 8 // the log is compacted behind the snapshot
	}})
	want := map[string]string{}
	for i := range 60 {
		k, v := fmt.Sprintf("k%d", i), fmt.Sprint(i)
		if _, err := c.Propose(ctx, raftnodetest.SetCmd(k, v)); err != nil {
			t.Fatal(err)
		}
		want[k] = v
	}
	src := c.Members()[0]
	for src.Node().Stats().LastSnapshotIndex == 0 {
		select {
		case <-ctx.Done():
			t.Fatal("no snapshot was taken")
		case <-time.After(20 * time.Millisecond):
		}
	}
	// The copied member takes no more snapshots, so that the entries proposed next are
	// in its log only and the recovery replays them.
	threshold = 1 << 40
	c.Kill(src)
	c.Restart(src)
	var last uint64
	for i := range 5 {
		k, v := fmt.Sprintf("tail%d", i), fmt.Sprint(i)
		res, err := c.Propose(ctx, raftnodetest.SetCmd(k, v))
		if err != nil {
			t.Fatal(err)
		}
		want[k] = v
		last = res.(uint64)
	}
	if err := c.WaitApplied(ctx, src, last); err != nil {
		t.Fatal(err)
	}
	st := src.Node().Stats()
	t.Logf("copied member: last index %d, snapshot at %d", st.LastIndex, st.LastSnapshotIndex)
	if st.LastSnapshotIndex == 0 || st.LastSnapshotIndex >= last {
		t.Fatalf("copied member's snapshot at %d, last entry %d: want a snapshot and entries after it", st.LastSnapshotIndex, last)
	}
	c.Close()
	backup := filepath.Join(t.TempDir(), "backup")
	copyTree(t, src.Dir, backup)

	t.Run("three new members", func(t *testing.T) {
		var members []raftnode.Member
		for _, id := range []string{"n1", "n2", "n3"} {
			members = append(members, raftnode.Member{ID: id, RaftAddr: freeAddr(t), ClientEndpoint: "tcp://" + id + ".new:7001"})
		}
		ms := recoverAndStart(t, backup, members, members)
		checkRecovered(t, ctx, ms, members, maps(want))
	})
	t.Run("one member", func(t *testing.T) {
		// An empty endpoint keeps the one the state knew for the same id.
		members := []raftnode.Member{{ID: src.ID, RaftAddr: freeAddr(t)}}
		runAs := []raftnode.Member{{ID: src.ID, RaftAddr: members[0].RaftAddr, ClientEndpoint: "tcp://" + src.ID + ".client:7001"}}
		ms := recoverAndStart(t, backup, members, runAs)
		checkRecovered(t, ctx, ms, runAs, maps(want))
	})
}

func maps(m map[string]string) map[string]string {
	c := make(map[string]string, len(m))
	for k, v := range m {
		c[k] = v
	}
	return c
}

func TestRecoverClusterRefuses(t *testing.T) {
	checkNoLeaks(t)
	self := raftnode.Member{ID: "a", RaftAddr: "127.0.0.1:7101"}
	empty := t.TempDir()
	for _, tc := range []struct {
		name    string
		members []raftnode.Member
		want    error
	}{
		{"no state", []raftnode.Member{self}, raftnode.ErrNoState},
		{"no members", nil, raftnode.ErrInvalidConfig},
		{"self missing", []raftnode.Member{{ID: "b", RaftAddr: "127.0.0.1:7102"}}, raftnode.ErrInvalidConfig},
		{"duplicate id", []raftnode.Member{self, {ID: "a", RaftAddr: "127.0.0.1:7102"}}, raftnode.ErrInvalidConfig},
		{"duplicate address", []raftnode.Member{self, {ID: "b", RaftAddr: "127.0.0.1:7101"}}, raftnode.ErrInvalidConfig},
		{"port 0", []raftnode.Member{{ID: "a", RaftAddr: "127.0.0.1:0"}}, raftnode.ErrInvalidConfig},
		{"unspecified address", []raftnode.Member{{ID: "a", RaftAddr: "0.0.0.0:7101"}}, raftnode.ErrInvalidConfig},
	} {
		err := raftnode.RecoverCluster(raftnode.Config{MemberID: "a", DataDir: empty, Logger: quietLogger()}, raftnodetest.NewKV(), tc.members)
		if !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
	}
	if err := raftnode.RecoverCluster(raftnode.Config{MemberID: "a", DataDir: empty}, nil, []raftnode.Member{self}); !errors.Is(err, raftnode.ErrInvalidConfig) {
		t.Errorf("nil state machine: %v", err)
	}
}
