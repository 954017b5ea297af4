package main

import (
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/zraft/zraft/server"
)

func env(kv map[string]string) func(string) string {
	return func(k string) string { return kv[k] }
}

func TestNoFlagsGiveTheDocumentedDefaults(t *testing.T) {
	s, err := parseSettings(nil, env(nil), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	c := s.cfg
	want := map[string][2]string{
		"id":          {c.MemberID, "node-1"},
		"client addr": {c.ClientAddr, "tcp://127.0.0.1:7001"},
		"raft addr":   {c.RaftAddr, "127.0.0.1:7101"},
		"admin addr":  {c.AdminAddr, "127.0.0.1:7201"},
		"data":        {c.DataDir, "zraft-data"},
	}
	for name, v := range want {
		if v[0] != v[1] {
			t.Errorf("%s = %q, want %q", name, v[0], v[1])
		}
	}
	if c.SessionTimeout != 30*time.Second || c.LeaderGrace != 10*time.Second || c.RedeliveryInterval != time.Second ||
		c.FlushInterval != time.Second || c.MaxInFlight != 1024 || c.MaxConnections != 10_000 {
		t.Errorf("tunables: %+v", c)
	}
	if len(c.Bootstrap) != 0 || len(c.Join) != 0 {
		t.Errorf("no flags must mean a single member bootstrapping itself: %+v %+v", c.Bootstrap, c.Join)
	}
	if s.logLevel.String() != "INFO" {
		t.Errorf("log level %v", s.logLevel)
	}
}

func TestEnvironmentAndFlagsFlagsWin(t *testing.T) {
	e := env(map[string]string{
		"ZRAFT_ID":              "from-env",
		"ZRAFT_DATA":            "/tmp/from-env",
		"ZRAFT_SESSION_TIMEOUT": "45s",
		"ZRAFT_BOOTSTRAP":       "a=127.0.0.1:1|tcp://127.0.0.1:2,from-flag=127.0.0.1:3|tcp://127.0.0.1:4",
		"ZRAFT_LOG_LEVEL":       "debug",
	})
	s, err := parseSettings([]string{"--id", "from-flag", "--max-in-flight=7"}, e, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	c := s.cfg
	if c.MemberID != "from-flag" || c.DataDir != "/tmp/from-env" || c.SessionTimeout != 45*time.Second || c.MaxInFlight != 7 {
		t.Fatalf("got %+v", c)
	}
	if len(c.Bootstrap) != 2 || c.Bootstrap[1] != (server.Member{ID: "from-flag", RaftAddr: "127.0.0.1:3", ClientEndpoint: "tcp://127.0.0.1:4"}) {
		t.Fatalf("bootstrap %+v", c.Bootstrap)
	}
	if s.logLevel.String() != "DEBUG" {
		t.Fatalf("log level %v", s.logLevel)
	}
}

func TestBadSettingsAreOneLineErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		env  map[string]string
		want string
	}{
		{[]string{"--nope"}, nil, "not defined"},
		{[]string{"extra"}, nil, "unexpected argument"},
		{[]string{"--session-timeout", "soon"}, nil, "session-timeout"},
		{nil, map[string]string{"ZRAFT_MAX_IN_FLIGHT": "many"}, "ZRAFT_MAX_IN_FLIGHT"},
		{[]string{"--client-addr", "127.0.0.1:1"}, nil, "tcp://"},
		{[]string{"--bootstrap", "x"}, nil, "id=raft-addr"},
		{[]string{"--bootstrap", "other=127.0.0.1:1"}, nil, "do not include"},
		{[]string{"--bootstrap", "node-1=127.0.0.1:1", "--join", "127.0.0.1:2"}, nil, "exclude"},
		{[]string{"--log-level", "loud"}, nil, "log level"},
		{[]string{"--flush-interval", "1m"}, nil, "flush interval"},
		{[]string{"--snapshot-threshold", "0"}, nil, "--snapshot-threshold (ZRAFT_SNAPSHOT_THRESHOLD) must be above zero"},
		{nil, map[string]string{"ZRAFT_MAX_CONNECTIONS": "0"}, "ZRAFT_MAX_CONNECTIONS"},
		{[]string{"--session-timeout", "0s"}, nil, "session-timeout"},
	} {
		_, err := parseSettings(tc.args, env(tc.env), io.Discard)
		if err == nil || !strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%v %v: error %v, want one line mentioning %q", tc.args, tc.env, err, tc.want)
		}
	}
	var usage strings.Builder
	if _, err := parseSettings([]string{"-h"}, env(nil), &usage); !errors.Is(err, errHelp) || !strings.Contains(usage.String(), "-client-addr") {
		t.Fatalf("-h: %v, usage %q", err, usage.String())
	}
}

func TestPprofIsOffByDefaultAndOnByFlagOrEnvironment(t *testing.T) {
	for _, tc := range []struct {
		args []string
		env  map[string]string
		want bool
	}{
		{nil, nil, false},
		{[]string{"--pprof"}, nil, true},
		{nil, map[string]string{"ZRAFT_PPROF": "true"}, true},
		{nil, map[string]string{"ZRAFT_PPROF": "1"}, true},
		{[]string{"--pprof=false"}, map[string]string{"ZRAFT_PPROF": "1"}, false},
	} {
		s, err := parseSettings(tc.args, env(tc.env), io.Discard)
		if err != nil {
			t.Fatalf("%v %v: %v", tc.args, tc.env, err)
		}
		if s.cfg.Pprof != tc.want {
			t.Errorf("%v %v: Pprof %v, want %v", tc.args, tc.env, s.cfg.Pprof, tc.want)
		}
	}
	if _, err := parseSettings(nil, env(map[string]string{"ZRAFT_PPROF": "maybe"}), io.Discard); err == nil || !strings.Contains(err.Error(), "ZRAFT_PPROF") {
		t.Fatalf("ZRAFT_PPROF=maybe: %v", err)
	}
}

func TestClientHeartbeatDefaultAndBound(t *testing.T) {
	s, err := parseSettings(nil, env(nil), io.Discard)
	if err != nil || s.cfg.ClientHeartbeat != 5*time.Second {
		t.Fatalf("default client heartbeat %v (%v), want 5s", s.cfg.ClientHeartbeat, err)
	}
	s, err = parseSettings(nil, env(map[string]string{"ZRAFT_CLIENT_HEARTBEAT": "2s"}), io.Discard)
	if err != nil || s.cfg.ClientHeartbeat != 2*time.Second {
		t.Fatalf("ZRAFT_CLIENT_HEARTBEAT=2s: %v (%v)", s.cfg.ClientHeartbeat, err)
	}
	if _, err := parseSettings([]string{"--client-heartbeat", "10s"}, env(nil), io.Discard); err == nil || !strings.Contains(err.Error(), "client heartbeat") {
		t.Fatalf("--client-heartbeat 10s: %v, want an error (not below the 10s heartbeat timeout)", err)
	}
}

func TestSnapshotSettingsDefaultsFlagsAndEnvironment(t *testing.T) {
	s, err := parseSettings(nil, env(nil), io.Discard)
	if err != nil || s.cfg.SnapshotThreshold != 8192 || s.cfg.SnapshotInterval != 30*time.Second {
		t.Fatalf("defaults %d, %v (%v); want 8192, 30s", s.cfg.SnapshotThreshold, s.cfg.SnapshotInterval, err)
	}
	s, err = parseSettings([]string{"--snapshot-threshold", "64"},
		env(map[string]string{"ZRAFT_SNAPSHOT_THRESHOLD": "99", "ZRAFT_SNAPSHOT_INTERVAL": "200ms"}), io.Discard)
	if err != nil || s.cfg.SnapshotThreshold != 64 || s.cfg.SnapshotInterval != 200*time.Millisecond {
		t.Fatalf("flag and env: %d, %v (%v); want 64, 200ms", s.cfg.SnapshotThreshold, s.cfg.SnapshotInterval, err)
	}
	for _, args := range [][]string{{"--snapshot-threshold", "-1"}, {"--snapshot-interval", "1ms"}} {
		if _, err := parseSettings(args, env(nil), io.Discard); err == nil || strings.Contains(err.Error(), "\n") {
			t.Errorf("%v: %v, want a one-line error", args, err)
		}
	}
}

func TestRecoverListIsParsedLikeBootstrap(t *testing.T) {
	s, err := parseSettings(nil, env(nil), io.Discard)
	if err != nil || s.recover != nil {
		t.Fatalf("no --recover: %+v (%v), want nil (serve)", s.recover, err)
	}
	s, err = parseSettings([]string{"--id", "b"}, env(map[string]string{"ZRAFT_RECOVER": "a=127.0.0.1:1|tcp://127.0.0.1:2,b=127.0.0.1:3"}), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	want := []server.Member{{ID: "a", RaftAddr: "127.0.0.1:1", ClientEndpoint: "tcp://127.0.0.1:2"}, {ID: "b", RaftAddr: "127.0.0.1:3"}}
	if len(s.recover) != 2 || s.recover[0] != want[0] || s.recover[1] != want[1] {
		t.Fatalf("ZRAFT_RECOVER: %+v, want %+v", s.recover, want)
	}
	for _, tc := range []struct{ list, want string }{
		{"nonsense", "id=raft-addr"},
		{"other=127.0.0.1:1", "do not include"},
	} {
		if _, err := parseSettings([]string{"--recover", tc.list}, env(nil), io.Discard); err == nil ||
			!strings.Contains(err.Error(), tc.want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("--recover %q: %v, want one line mentioning %q", tc.list, err, tc.want)
		}
	}
}
