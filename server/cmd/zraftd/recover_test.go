package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/zraft/zraft/client"
	"github.com/zraft/zraft/client/kv"
	"github.com/zraft/zraft/server"
)

// runToExit runs zraftd to its end and returns its exit code and stderr.
func runToExit(t *testing.T, bin, dir string, args ...string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "ZRAFT_LOG_LEVEL=warn")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0, stderr.String()
	case errors.As(err, &ee) && ctx.Err() == nil:
		return ee.ExitCode(), stderr.String()
	}
	t.Fatalf("zraftd %v: %v\n%s", args, err, stderr.String())
	return 0, ""
}

// oneLine checks that stderr is a single "zraftd: " line mentioning want.
func oneLine(t *testing.T, what, stderr, want string) {
	t.Helper()
	lines := strings.Split(strings.TrimSuffix(stderr, "\n"), "\n")
	if len(lines) != 1 || !strings.HasPrefix(lines[0], "zraftd: ") || !strings.Contains(lines[0], want) {
		t.Errorf("%s: stderr %q, want one zraftd line mentioning %q", what, stderr, want)
	}
}

// docs/operations.md, "Restore onto other members": the data dir of a 3-member
// cluster's follower, copied while it was stopped, is recovered with --recover as a
// 1-member cluster under a new id and new addresses. zraftd --recover rewrites the
// configuration and exits 0 without serving; started on the dir without it, the member
// leads alone and serves the old keys.
func TestBackupRecoverOntoOneNewMember(t *testing.T) {
	if testing.Short() {
		t.Skip("runs four zraftd processes")
	}
	bkCheckNoLeaks(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c := newBkCluster(t)
	_, k := c.dial(ctx)
	bkSet(t, ctx, k, "before", "1")
	bkSet(t, ctx, k, "other", "2")
	f := c.follower(ctx)
	c.stop(f)
	backup := filepath.Join(t.TempDir(), "backup")
	bkCopyTree(t, f.data, backup)

	cl, raft, admin := "tcp://"+freePort(t), freePort(t), freePort(t)
	args := []string{"--id", "node-9", "--client-addr", cl, "--raft-addr", raft, "--admin-addr", admin, "--data", backup}
	list := fmt.Sprintf("node-9=%s|%s", raft, cl)

	// Refusals: a list without this member is a bad flag; a data dir without Raft state,
	// or one a running member holds, fails; none touches a data dir.
	code, stderr := runToExit(t, c.bin, c.work, append(args, "--recover", "node-8="+raft)...)
	if code != 2 {
		t.Errorf("--recover without this member: exit %d, want 2", code)
	}
	oneLine(t, "--recover without this member", stderr, "do not include")
	empty := t.TempDir()
	code, stderr = runToExit(t, c.bin, c.work, "--id", "node-9", "--data", empty, "--recover", list)
	if code != 1 {
		t.Errorf("--recover on an empty data dir: exit %d, want 1", code)
	}
	oneLine(t, "--recover on an empty data dir", stderr, "no raft state")
	l, _ := c.leader(ctx)
	code, stderr = runToExit(t, c.bin, c.work, "--id", l.id, "--data", l.data, "--recover", l.id+"="+l.raft)
	if code != 1 {
		t.Errorf("--recover on a running member's data dir: exit %d, want 1", code)
	}
	oneLine(t, "--recover on a running member's data dir", stderr, "still running")

	began := time.Now()
	if code, stderr = runToExit(t, c.bin, c.work, append(args, "--recover", list)...); code != 0 {
		t.Fatalf("--recover: exit %d:\n%s", code, stderr)
	}
	t.Logf("--recover took %v", time.Since(began).Round(time.Millisecond))

	p := start(t, c.bin, c.work, args...)
	waitReady(t, admin, p)
	m := &bkMember{id: "node-9", client: cl, raft: raft, admin: admin, data: backup, p: p}
	st := bkWaitStatus(t, ctx, m, "leader of the recovered cluster", func(st server.ClusterStatus) bool { return st.Role == "leader" })
	if len(st.Members) != 1 || st.Members[0].ID != "node-9" || st.Members[0].RaftAddr != raft || st.Members[0].ClientEndpoint != cl {
		t.Errorf("recovered members %+v, want node-9 at %s (%s) alone", st.Members, raft, cl)
	}
	nc, err := client.Dial(ctx, "node-9="+cl, client.WithBackoff(50*time.Millisecond, 500*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = nc.Close(cctx)
	})
	nk := kv.New(nc)
	bkExpect(t, ctx, nk, "before", "1")
	bkExpect(t, ctx, nk, "other", "2")
	bkSet(t, ctx, nk, "recovered", "3")
	bkExpect(t, ctx, nk, "recovered", "3")
	p.stop(t)
}
