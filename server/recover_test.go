package server

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/zraft/zraft/domain/session"
	"github.com/zraft/zraft/protocol"
)

// freeRaftPort returns a 127.0.0.1 port that was free a moment ago: a recovered
// configuration names the member's Raft address before the member binds it.
func freeRaftPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// A member's data dir (a snapshot and entries after it) is recovered as a single-member
// cluster under another id and Raft address: the state machine Recover builds replays
// everything, and the member started on the dir leads the new configuration alone with
// the old state and sessions, and serves.
func TestRecoverOntoAnotherMember(t *testing.T) {
	checkLeaks(t)
	ctx := ctxFor(t, 90*time.Second)
	dir := filepath.Join(t.TempDir(), "member")
	snapshotEvery := func(c *Config) {
		c.SnapshotThreshold, c.SnapshotInterval = 64, 20*time.Millisecond
	}
	app := &counterApp{}
	cl := newCluster(t, 1, func(c *Config) { c.DataDir = dir; snapshotEvery(c) },
		func() session.Application { return app })
	old := cl.members[0]
	s := newSession(ctx, t, cl)
	incr := func(s *tsession, from, to int) {
		for i := from; i <= to; i++ {
			s.submit(ctx, protocol.RequestID(i), []byte("incr"))
		}
		s.runUntil(ctx, "the increments answered", func() bool { return len(s.pending) == 0 })
	}
	incr(s, 1, 100)
	eventually(t, 30*time.Second, "a snapshot", func() bool { return old.srv.node.Stats().LastSnapshotIndex > 0 })
	incr(s, 101, 110) // fewer than the threshold: these stay in the log only
	st := old.srv.node.Stats()
	if st.LastIndex <= st.LastSnapshotIndex {
		t.Fatalf("no entries after the snapshot (last %d, snapshot %d): the replay would not be exercised", st.LastIndex, st.LastSnapshotIndex)
	}
	t.Logf("before recovery: snapshot at %d, last index %d", st.LastSnapshotIndex, st.LastIndex)
	running := Config{MemberID: "node-1", DataDir: dir}
	if err := Recover(running, []Member{{ID: "node-1", RaftAddr: "127.0.0.1:1"}}, WithLogger(testLogger())); err == nil || errors.Is(err, ErrNoState) || errors.Is(err, ErrInvalidConfig) {
		t.Fatalf("Recover on a running member's data dir: %v, want the store's lock refused", err)
	}
	cl.kill(old)

	raftAddr := freeRaftPort(t)
	cfg := Config{MemberID: "node-7", ClientAddr: "tcp://127.0.0.1:0", RaftAddr: raftAddr, AdminAddr: "off", DataDir: dir}
	snapshotEvery(&cfg)
	members := []Member{{ID: "node-7", RaftAddr: raftAddr}}

	// Refusals first: nothing is written.
	if err := Recover(cfg, []Member{{ID: "node-8", RaftAddr: raftAddr}}, WithLogger(testLogger())); !errors.Is(err, ErrInvalidConfig) {
		t.Fatalf("members without this member: %v, want ErrInvalidConfig", err)
	}
	if err := Recover(cfg, []Member{{ID: "node-7", RaftAddr: "0.0.0.0:7101"}}, WithLogger(testLogger())); !errors.Is(err, ErrInvalidConfig) {
		t.Fatalf("an unspecified Raft address: %v, want ErrInvalidConfig", err)
	}
	missing := cfg
	missing.DataDir = filepath.Join(t.TempDir(), "missing")
	if err := Recover(missing, members, WithLogger(testLogger())); !errors.Is(err, ErrNoState) {
		t.Fatalf("a missing data dir: %v, want ErrNoState", err)
	}
	if _, err := os.Stat(missing.DataDir); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("Recover created the missing data dir: %v", err)
	}
	empty := cfg
	empty.DataDir = t.TempDir()
	if err := Recover(empty, members, WithLogger(testLogger())); !errors.Is(err, ErrNoState) {
		t.Fatalf("an empty data dir: %v, want ErrNoState", err)
	}

	recovered := &counterApp{}
	if err := Recover(cfg, members, WithApplication(recovered), WithLogger(testLogger()), WithRaftConfig(fastRaft)); err != nil {
		t.Fatal(err)
	}
	if got := recovered.value(); got != 110 {
		t.Fatalf("the recovery's state machine counted %d, want 110 (snapshot and log replayed)", got)
	}
	info, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if perm := info.Mode().Perm(); perm != 0o750 {
		t.Errorf("data dir mode %v after recovery, want 0750", perm)
	}

	app2 := &counterApp{}
	srv, err := New(cfg, WithApplication(app2), WithLogger(testLogger()), WithRaftConfig(fastRaft))
	if err != nil {
		t.Fatal(err)
	}
	m := &tmember{srv: srv, done: make(chan error, 1)}
	runCtx, cancel := context.WithCancel(context.Background())
	m.cancel = cancel
	go func() { m.done <- srv.Run(runCtx) }()
	rc := &tcluster{t: t, members: []*tmember{m}, endpoints: map[string]string{srv.ID(): srv.ClientEndpoint()}}
	t.Cleanup(func() { rc.kill(m) })
	rc.leader(ctx)
	if got := app2.value(); got != 110 {
		t.Errorf("the recovered member starts with count %d, want 110", got)
	}
	if !hasSession(m, string(s.id)) {
		t.Errorf("session %s of the old member is gone", shortID(string(s.id)))
	}
	ms := srv.node.State().Members
	if len(ms) != 1 || ms[0].ID != "node-7" || ms[0].RaftAddr != raftAddr {
		t.Errorf("members %+v, want node-7 at %s alone", ms, raftAddr)
	}
	s2 := newSession(ctx, t, rc)
	incr(s2, 1, 1)
	if got := string(s2.answers[1]); got != "111" {
		t.Errorf("first increment on the recovered member answered %q, want 111", got)
	}
}
