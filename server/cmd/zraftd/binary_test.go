package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/zraft/zraft/adapters/zmtp"
	"github.com/zraft/zraft/protocol"
	"github.com/zraft/zraft/protocol/kvwire"
)

var (
	binDir   string
	buildErr error
	built    sync.Once
)

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		_ = os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// buildZraftd builds the command once per test binary.
func buildZraftd(t *testing.T) string {
	t.Helper()
	if bin := os.Getenv("ZRAFT_BENCH_BIN"); bin != "" {
		return bin // a zraftd built elsewhere (an older commit, to compare)
	}
	built.Do(func() {
		if binDir, buildErr = os.MkdirTemp("", "zraftd-test"); buildErr != nil {
			return
		}
		cmd := exec.Command("go", "build", "-o", filepath.Join(binDir, "zraftd"), ".")
		cmd.Env = append(os.Environ(), "GOWORK=off")
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return filepath.Join(binDir, "zraftd")
}

// freePort returns a port that was free a moment ago (the binary needs the same ports
// across a restart, so port 0 will not do).
func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

type proc struct {
	cmd    *exec.Cmd
	stderr *bytes.Buffer
	done   chan error
}

func start(t *testing.T, bin, dir string, args ...string) *proc {
	t.Helper()
	p := &proc{cmd: exec.Command(bin, args...), stderr: &bytes.Buffer{}, done: make(chan error, 1)}
	p.cmd.Dir = dir
	p.cmd.Stderr = p.stderr
	p.cmd.Env = append(os.Environ(), "ZRAFT_LOG_LEVEL=warn")
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.done <- p.cmd.Wait() }()
	t.Cleanup(func() {
		_ = p.cmd.Process.Kill()
		<-p.done
	})
	return p
}

// stop sends SIGTERM and expects a clean exit.
func (p *proc) stop(t *testing.T) {
	t.Helper()
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-p.done:
		p.done <- err
		if err != nil {
			t.Fatalf("zraftd exited with %v:\n%s", err, p.stderr)
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("zraftd did not stop on SIGTERM:\n%s", p.stderr)
	}
}

func waitReady(t *testing.T, admin string, p *proc) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := http.Get("http://" + admin + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("/readyz never answered 200:\n%s", p.stderr)
}

// kvCall creates a session and either sets key (value != "") or reads it.
func kvCall(t *testing.T, endpoint, key, value string) (string, bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := zmtp.NewClient()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Connect(endpoint); err != nil {
		t.Fatal(err)
	}
	recv := func() protocol.ServerMessage {
		for {
			ev, err := c.Recv(ctx)
			if err != nil {
				t.Fatalf("recv: %v", err)
			}
			if ev.Kind == zmtp.EventMessage {
				m, err := protocol.DecodeServerMessage(ev.Data)
				if err != nil {
					t.Fatal(err)
				}
				return m
			}
		}
	}
	send := func(m protocol.ClientMessage) {
		b, err := protocol.AppendClientMessage(nil, m)
		if err != nil {
			t.Fatal(err)
		}
		for {
			err := c.Send(ctx, b)
			if !errors.Is(err, zmtp.ErrNotConnected) {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	send(&protocol.CreateSession{Capabilities: protocol.Capabilities{{Key: "app", Value: "zraftd-test"}}, Nonce: 1})
	if m, ok := recv().(*protocol.SessionCreated); !ok {
		t.Fatalf("create session: %#v", m)
	}
	if value != "" {
		payload, _ := kvwire.AppendCommand(nil, kvwire.Set{Key: key, Value: value})
		send(&protocol.ClientRequest{RequestID: 1, LowestPendingRequestID: 1, Payload: payload})
		if m, ok := recv().(*protocol.ClientResponse); !ok {
			t.Fatalf("set: %#v", m)
		}
		return value, true
	}
	payload, _ := kvwire.AppendGet(nil, kvwire.Get{Key: key})
	send(&protocol.Query{CorrelationID: "q", Payload: payload})
	m, ok := recv().(*protocol.QueryResponse)
	if !ok {
		t.Fatalf("get: %#v", m)
	}
	res, err := kvwire.DecodeGetResult(m.Result)
	if err != nil {
		t.Fatal(err)
	}
	return res.Value, res.Found
}

// A single member started with only ports changed keeps its data under ./zraft-data
// across a restart.
func TestBinaryRestartKeepsData(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := buildZraftd(t)
	dir := t.TempDir()
	client, raft, admin := "tcp://"+freePort(t), freePort(t), freePort(t)
	args := []string{"--client-addr", client, "--raft-addr", raft, "--admin-addr", admin}

	p := start(t, bin, dir, args...)
	waitReady(t, admin, p)
	kvCall(t, client, "greeting", "hello")
	resp, err := http.Get("http://" + admin + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, name := range []string{"zraft_sessions_live", "zraft_sessions_created_total", "zraft_raft_term"} {
		if !bytes.Contains(metrics, []byte(name)) {
			t.Errorf("/metrics lacks %s:\n%s", name, metrics)
		}
	}
	p.stop(t)
	if _, err := os.Stat(filepath.Join(dir, "zraft-data", "raft")); err != nil {
		t.Fatalf("no data under ./zraft-data: %v", err)
	}

	p = start(t, bin, dir, args...)
	waitReady(t, admin, p)
	if v, ok := kvCall(t, client, "greeting", ""); !ok || v != "hello" {
		t.Fatalf("after the restart greeting = %q, %v; want hello", v, ok)
	}
	p.stop(t)
}

func TestBinaryBadFlagExitsTwoWithOneLine(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := buildZraftd(t)
	for _, args := range [][]string{{"--no-such-flag"}, {"--session-timeout", "x"}, {"--bootstrap", "nonsense"}} {
		cmd := exec.Command(bin, args...)
		cmd.Dir = t.TempDir()
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		err := cmd.Run()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 2 {
			t.Fatalf("%v: %v, want exit code 2", args, err)
		}
		if lines := strings.Split(strings.TrimSuffix(stderr.String(), "\n"), "\n"); len(lines) != 1 || !strings.HasPrefix(lines[0], "zraftd: ") {
			t.Fatalf("%v: stderr %q, want one line", args, stderr.String())
		}
	}
}
