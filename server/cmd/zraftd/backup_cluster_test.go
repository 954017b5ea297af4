package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/zraft/zraft/client"
	"github.com/zraft/zraft/client/kv"
	"github.com/zraft/zraft/server"
)

// The backup tests run three zraftd processes on 127.0.0.1 (each with its own data dir,
// all with the same --bootstrap list) and follow docs/operations.md "Backup and restore"
// with files copied by the test, as an operator would with cp -a.

type bkMember struct {
	id, client, raft, admin, data string
	p                             *proc // nil while stopped
}

type bkCluster struct {
	t     *testing.T
	bin   string
	work  string
	boot  string
	extra []string
	ms    []*bkMember
}

// newBkCluster starts a bootstrapped 3-member cluster; extra flags go to every member.
func newBkCluster(t *testing.T, extra ...string) *bkCluster {
	t.Helper()
	c := &bkCluster{t: t, bin: buildZraftd(t), work: t.TempDir(), extra: extra}
	var boot []string
	for i := range 3 {
		m := &bkMember{id: fmt.Sprintf("node-%d", i+1), client: "tcp://" + freePort(t), raft: freePort(t),
			admin: freePort(t), data: filepath.Join(c.work, fmt.Sprintf("data-%d", i+1))}
		boot = append(boot, fmt.Sprintf("%s=%s|%s", m.id, m.raft, m.client))
		c.ms = append(c.ms, m)
	}
	c.boot = strings.Join(boot, ",")
	c.startAll()
	return c
}

// endpoints is the client library's member list.
func (c *bkCluster) endpoints() string {
	var eps []string
	for _, m := range c.ms {
		eps = append(eps, m.id+"="+m.client)
	}
	return strings.Join(eps, ",")
}

// start starts m with the cluster's flags and more (with --join in more, without
// --bootstrap: zraftd refuses both).
func (c *bkCluster) start(m *bkMember, more ...string) {
	c.t.Helper()
	args := []string{"--id", m.id, "--client-addr", m.client, "--raft-addr", m.raft, "--admin-addr", m.admin, "--data", m.data}
	if !slices.Contains(more, "--join") {
		args = append(args, "--bootstrap", c.boot)
	}
	args = append(append(args, c.extra...), more...)
	m.p = start(c.t, c.bin, c.work, args...)
}

// startAll starts every stopped member and waits until each is ready.
func (c *bkCluster) startAll() {
	c.t.Helper()
	for _, m := range c.ms {
		if m.p == nil {
			c.start(m)
		}
	}
	for _, m := range c.ms {
		waitReady(c.t, m.admin, m.p)
	}
}

// stop stops m gracefully (SIGTERM) and waits for its clean exit.
func (c *bkCluster) stop(m *bkMember) {
	c.t.Helper()
	m.p.stop(c.t)
	m.p = nil
}

// bkRemove asks the leader to remove the member id (DELETE /cluster/members/{id}).
func (c *bkCluster) remove(ctx context.Context, id string) {
	c.t.Helper()
	l, _ := c.leader(ctx)
	req, err := http.NewRequestWithContext(ctx, http.MethodDelete, "http://"+l.admin+"/cluster/members/"+id, nil)
	if err != nil {
		c.t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		c.t.Fatalf("DELETE /cluster/members/%s: %s: %s", id, resp.Status, b)
	}
}

// status reads m's GET /cluster.
func bkStatus(m *bkMember) (server.ClusterStatus, error) {
	var st server.ClusterStatus
	resp, err := http.Get("http://" + m.admin + "/cluster")
	if err != nil {
		return st, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		return st, fmt.Errorf("GET /cluster: %s: %s", resp.Status, b)
	}
	return st, json.NewDecoder(resp.Body).Decode(&st)
}

// leader waits until a running member reports itself leader, and returns it.
func (c *bkCluster) leader(ctx context.Context) (*bkMember, server.ClusterStatus) {
	c.t.Helper()
	for {
		for _, m := range c.ms {
			if m.p == nil {
				continue
			}
			if st, err := bkStatus(m); err == nil && st.Role == "leader" {
				return m, st
			}
		}
		select {
		case <-ctx.Done():
			c.t.Fatalf("no leader: %v", ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// follower returns a running member that is not the leader.
func (c *bkCluster) follower(ctx context.Context) *bkMember {
	c.t.Helper()
	l, _ := c.leader(ctx)
	for _, m := range c.ms {
		if m != l && m.p != nil {
			return m
		}
	}
	c.t.Fatal("no running follower")
	return nil
}

// waitStatus polls m's /cluster until ok accepts it.
func bkWaitStatus(t *testing.T, ctx context.Context, m *bkMember, what string, ok func(server.ClusterStatus) bool) server.ClusterStatus {
	t.Helper()
	var last server.ClusterStatus
	var lastErr error
	for {
		st, err := bkStatus(m)
		if err == nil && ok(st) {
			return st
		}
		last, lastErr = st, err
		select {
		case <-ctx.Done():
			t.Fatalf("%s: %s never held: last /cluster %+v (err %v)", m.id, what, last, lastErr)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// dial opens a session through the client library; it is closed at the end of the test.
func (c *bkCluster) dial(ctx context.Context, opts ...client.Option) (*client.Client, *kv.Client) {
	c.t.Helper()
	opts = append([]client.Option{client.WithBackoff(50*time.Millisecond, 500*time.Millisecond)}, opts...)
	cl, err := client.Dial(ctx, c.endpoints(), opts...)
	if err != nil {
		c.t.Fatalf("dial: %v", err)
	}
	c.t.Cleanup(func() {
		cctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = cl.Close(cctx)
	})
	return cl, kv.New(cl)
}

func bkSet(t *testing.T, ctx context.Context, k *kv.Client, key, value string) {
	t.Helper()
	if err := k.Set(ctx, key, value); err != nil {
		t.Fatalf("set %s: %v", key, err)
	}
}

// bkExpect reads key (linearizable) and checks it is value, or absent when value is "".
func bkExpect(t *testing.T, ctx context.Context, k *kv.Client, key, value string) {
	t.Helper()
	v, found, err := k.Get(ctx, key)
	switch {
	case err != nil:
		t.Fatalf("get %s: %v", key, err)
	case value == "" && found:
		t.Errorf("%s = %q, want it absent", key, v)
	case value != "" && (!found || v != value):
		t.Errorf("%s = %q (found %v), want %q", key, v, found, value)
	}
}

// bkCopyTree copies the directory src to dst (which must not exist) as cp -a would:
// directories, regular files and their permissions.
func bkCopyTree(t *testing.T, src, dst string) {
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
		switch {
		case d.IsDir():
			return os.MkdirAll(target, info.Mode().Perm())
		case !info.Mode().IsRegular():
			return fmt.Errorf("%s: not a regular file", path)
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

// bkReplaceDir replaces dir's contents with a copy of src.
func bkReplaceDir(t *testing.T, src, dir string) {
	t.Helper()
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	bkCopyTree(t, src, dir)
}

// bkCheckNoLeaks fails the test if goroutines of the client library or its transport
// are still running (with retries) when the test's cleanups are done.
func bkCheckNoLeaks(t *testing.T) {
	t.Helper()
	t.Cleanup(func() {
		deadline := time.Now().Add(10 * time.Second)
		for {
			buf := make([]byte, 4<<20)
			buf = buf[:runtime.Stack(buf, true)]
			var leaked []string
			for g := range strings.SplitSeq(string(buf), "\n\n") {
				if strings.Contains(g, "zraft/zraft/client") || strings.Contains(g, "zraft/adapters/zmtp") {
					leaked = append(leaked, g)
				}
			}
			if len(leaked) == 0 {
				return
			}
			if time.Now().After(deadline) {
				t.Errorf("%d leaked goroutines:\n%s", len(leaked), strings.Join(leaked, "\n\n"))
				return
			}
			time.Sleep(50 * time.Millisecond)
		}
	})
}

// kill stops m at once (SIGKILL), as a lost machine would.
func (c *bkCluster) kill(m *bkMember) {
	c.t.Helper()
	_ = m.p.cmd.Process.Kill()
	err := <-m.p.done
	m.p.done <- err // for the cleanup registered by start
	m.p = nil
}
