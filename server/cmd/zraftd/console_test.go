package main

import (
	"bytes"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestTelemetryConsoleFlag(t *testing.T) {
	s, err := parseSettings(nil, env(nil), nil)
	if err != nil || s.telemetryConsole {
		t.Fatalf("default: console %v, err %v; want off", s.telemetryConsole, err)
	}
	s, err = parseSettings(nil, env(map[string]string{"ZRAFT_TELEMETRY_CONSOLE": "true"}), nil)
	if err != nil || !s.telemetryConsole {
		t.Fatalf("ZRAFT_TELEMETRY_CONSOLE=true: console %v, err %v", s.telemetryConsole, err)
	}
}

// With --telemetry-console the member writes its metrics (at the latest when it stops)
// to stdout; without it, stdout stays empty. (Observable gauges are not in the last
// collection at shutdown: the member has unregistered their callbacks by then.)
func TestBinaryTelemetryConsoleWritesToStdout(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	bin := buildZraftd(t)
	for _, console := range []bool{false, true} {
		client, raft, admin := "tcp://"+freePort(t), freePort(t), freePort(t)
		args := []string{"--client-addr", client, "--raft-addr", raft, "--admin-addr", admin}
		if console {
			args = append(args, "--telemetry-console")
		}
		cmd := exec.Command(bin, args...)
		cmd.Dir = t.TempDir()
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		waitReady(t, admin, &proc{cmd: cmd, stderr: &stderr, done: done})
		kvCall(t, client, "k", "v")
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("console %v: zraftd exited with %v:\n%s", console, err, stderr.String())
			}
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
			<-done
			t.Fatalf("console %v: zraftd did not stop on SIGTERM:\n%s", console, stderr.String())
		}
		out := stdout.String()
		if !console {
			if out != "" {
				t.Fatalf("without --telemetry-console stdout = %q, want nothing", out)
			}
			continue
		}
		for _, want := range []string{"zraft.sessions.created", "zraft.commands", "zraft.connections"} {
			if !strings.Contains(out, want) {
				t.Errorf("--telemetry-console: stdout lacks %q:\n%.2000s", want, out)
			}
		}
	}
}

func TestClientPollerFlag(t *testing.T) {
	for _, tc := range []struct {
		args    []string
		env     map[string]string
		disable bool
	}{
		{nil, nil, false},
		{[]string{"--client-poller=false"}, nil, true},
		{nil, map[string]string{"ZRAFT_CLIENT_POLLER": "false"}, true},
		{[]string{"--client-poller=true"}, map[string]string{"ZRAFT_CLIENT_POLLER": "false"}, false},
	} {
		s, err := parseSettings(tc.args, env(tc.env), nil)
		if err != nil {
			t.Fatalf("%v %v: %v", tc.args, tc.env, err)
		}
		if s.cfg.DisableClientPoller != tc.disable {
			t.Errorf("%v %v: DisableClientPoller = %v, want %v", tc.args, tc.env, s.cfg.DisableClientPoller, tc.disable)
		}
	}
}
