package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/zraft/zraft/client/internal/testserver"
)

type result struct {
	code           int
	stdout, stderr string
}

// zraft runs the built binary with args and the environment env added.
func zraft(t *testing.T, bin string, env []string, args ...string) result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append(os.Environ(), env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	var exit *exec.ExitError
	if errors.As(err, &exit) {
		code = exit.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return result{code, out.String(), errb.String()}
}

func build(t *testing.T) string {
	t.Helper()
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go command not found")
	}
	bin := filepath.Join(t.TempDir(), "zraft")
	out, err := exec.Command(gobin, "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// oneLine checks that an error went to stderr as exactly one line.
func oneLine(t *testing.T, r result) {
	t.Helper()
	if strings.Count(r.stderr, "\n") != 1 || !strings.HasPrefix(r.stderr, "zraft: ") {
		t.Errorf("stderr is not one error line: %q", r.stderr)
	}
}

func TestCLI(t *testing.T) {
	bin := build(t)
	cl, err := testserver.Start(testserver.Config{Members: 3, Extensions: true})
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	cl.SetLeader(1)
	env := []string{"ZRAFT_ENDPOINTS=" + cl.Endpoints()}

	t.Run("set get del", func(t *testing.T) {
		if r := zraft(t, bin, env, "set", "a", "hello world"); r.code != 0 || r.stdout != "OK\n" {
			t.Fatalf("set: %+v", r)
		}
		if r := zraft(t, bin, env, "get", "a"); r.code != 0 || r.stdout != "hello world\n" {
			t.Fatalf("get: %+v", r)
		}
		r := zraft(t, bin, env, "get", "--json", "a")
		var got map[string]any
		if err := json.Unmarshal([]byte(r.stdout), &got); r.code != 0 || err != nil ||
			got["found"] != true || got["value"] != "hello world" || got["key"] != "a" {
			t.Fatalf("get --json: %+v %v", r, err)
		}
		if r := zraft(t, bin, env, "del", "a"); r.code != 0 || r.stdout != "OK\n" {
			t.Fatalf("del: %+v", r)
		}
		if r := zraft(t, bin, env, "get", "a"); r.code != 0 || r.stdout != "" {
			t.Fatalf("get deleted: %+v", r)
		}
		if r := zraft(t, bin, env, "--json", "get", "a"); r.code != 0 || !strings.Contains(r.stdout, `"found":false`) {
			t.Fatalf("get --json deleted: %+v", r)
		}
		if r := zraft(t, bin, nil, "--endpoints", cl.Endpoints(), "set", "b", "2"); r.code != 0 {
			t.Fatalf("--endpoints: %+v", r)
		}
	})

	t.Run("status", func(t *testing.T) {
		r := zraft(t, bin, env, "status")
		if r.code != 0 || !strings.Contains(r.stdout, "leader:     node-2") ||
			!strings.Contains(r.stdout, "node-3="+cl.Member(2).Endpoint()) {
			t.Fatalf("status: %+v", r)
		}
		r = zraft(t, bin, env, "status", "--json")
		var got struct {
			Leader  string
			Session string
			Members []map[string]string
		}
		if err := json.Unmarshal([]byte(r.stdout), &got); err != nil || got.Leader != "node-2" || got.Session == "" || len(got.Members) != 3 {
			t.Fatalf("status --json: %+v %v", r, err)
		}
	})

	t.Run("watch", func(t *testing.T) {
		if r := zraft(t, bin, env, "set", "w", "0"); r.code != 0 {
			t.Fatalf("set: %+v", r)
		}
		cmd := exec.Command(bin, "watch", "w", "v")
		cmd.Env = append(os.Environ(), env...)
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		defer func() { _ = cmd.Process.Kill() }()
		lines := make(chan string, 16)
		go func() {
			s := bufio.NewScanner(stdout)
			for s.Scan() {
				lines <- s.Text()
			}
			close(lines)
			_, _ = io.Copy(io.Discard, stdout)
		}()
		expect := func(want string) {
			t.Helper()
			select {
			case got := <-lines:
				if got != want {
					t.Fatalf("watch printed %q, want %q", got, want)
				}
			case <-time.After(30 * time.Second):
				t.Fatalf("watch printed nothing, want %q (stderr %q)", want, stderr.String())
			}
		}
		expect("w\t0") // the current value, sent when the watch starts
		zraft(t, bin, env, "set", "w", "1")
		expect("w\t1")
		zraft(t, bin, env, "set", "v", "x")
		expect("v\tx")
		zraft(t, bin, env, "del", "w")
		expect("w\t")
		if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
			t.Fatal(err)
		}
		for range lines {
		}
		err = cmd.Wait()
		var exit *exec.ExitError
		if !errors.As(err, &exit) || exit.ExitCode() != 130 {
			t.Fatalf("watch after Ctrl-C: %v, want exit code 130", err)
		}
	})

	t.Run("watch ends when the session expires", func(t *testing.T) {
		if r := zraft(t, bin, env, "set", "e", "0"); r.code != 0 {
			t.Fatalf("set: %+v", r)
		}
		cmd := exec.Command(bin, "watch", "e")
		cmd.Env = append(os.Environ(), env...)
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		defer func() { _ = cmd.Process.Kill() }()
		line, err := bufio.NewReader(stdout).ReadString('\n')
		if err != nil || line != "e\t0\n" {
			t.Fatalf("first line %q, %v", line, err)
		}
		for _, id := range cl.Sessions() { // only the watcher's is open
			cl.Expire(id)
		}
		err = cmd.Wait()
		var exit *exec.ExitError
		if !errors.As(err, &exit) || exit.ExitCode() != 2 || !strings.Contains(stderr.String(), "session expired") {
			t.Fatalf("watch: %v, stderr %q; want exit 2", err, stderr.String())
		}
		oneLine(t, result{stderr: stderr.String()})
	})

	t.Run("usage", func(t *testing.T) {
		for _, args := range [][]string{{}, {"frobnicate"}, {"get"}, {"set", "k"}, {"status", "x"},
			{"--endpoints", "nonsense", "get", "k"}, {"--timeout", "0s", "get", "k"}, {"--bogus"}} {
			r := zraft(t, bin, env, args...)
			if r.code != 1 {
				t.Errorf("%q: exit %d, want 1 (%q)", args, r.code, r.stderr)
			}
		}
		oneLine(t, zraft(t, bin, env, "frobnicate"))
		if r := zraft(t, bin, env, "-h"); r.code != 0 || !strings.Contains(r.stderr, "usage: zraft") {
			t.Errorf("-h: %+v", r)
		}
	})

	t.Run("unavailable", func(t *testing.T) {
		down, err := testserver.Start(testserver.Config{Members: 1})
		if err != nil {
			t.Fatal(err)
		}
		ep := down.Endpoints()
		down.Close()
		r := zraft(t, bin, nil, "--endpoints", ep, "--timeout", "500ms", "get", "k")
		if r.code != 2 || !strings.Contains(r.stderr, "timed out") {
			t.Fatalf("%+v, want exit 2", r)
		}
		oneLine(t, r)
	})

	t.Run("rejected", func(t *testing.T) {
		rej, err := testserver.Start(testserver.Config{Members: 1, RejectSessions: true})
		if err != nil {
			t.Fatal(err)
		}
		defer rej.Close()
		r := zraft(t, bin, nil, "--endpoints", rej.Endpoints(), "set", "k", "v")
		if r.code != 3 {
			t.Fatalf("%+v, want exit 3", r)
		}
		oneLine(t, r)
	})
}
