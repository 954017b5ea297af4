package server

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

func getJSON(t *testing.T, url string, v any) int {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if v != nil {
		if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
			t.Fatalf("GET %s: %v", url, err)
		}
	}
	return resp.StatusCode
}

func adminDo(t *testing.T, method, url, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestAdminEndpointsAndMembershipChanges(t *testing.T) {
	checkLeaks(t)
	ctx := ctxFor(t, 90*time.Second)
	cl := newCluster(t, 3, nil, nil)
	leader := cl.leader(ctx)
	follower := cl.follower(ctx)
	newSession(ctx, t, cl)
	base := func(m *Server) string { return "http://" + m.AdminAddr() }

	if code, body := adminDo(t, "GET", base(follower.srv)+"/healthz", ""); code != 200 || body != "ok\n" {
		t.Fatalf("/healthz: %d %q", code, body)
	}
	eventually(t, 10*time.Second, "follower ready", func() bool {
		code, _ := adminDo(t, "GET", base(follower.srv)+"/readyz", "")
		return code == 200
	})
	var st ClusterStatus
	eventually(t, 10*time.Second, "the session replicated to the follower", func() bool {
		getJSON(t, base(follower.srv)+"/cluster", &st)
		return st.Sessions == 1
	})
	if st.ID != follower.srv.ID() || st.Role != "follower" || st.Leader == nil || st.Leader.ID != leader.srv.ID() ||
		len(st.Members) != 3 || st.AppliedIndex == 0 || st.Term == 0 {
		t.Fatalf("follower's /cluster: %+v", st)
	}
	if st.Leader.ClientEndpoint != leader.srv.ClientEndpoint() {
		t.Fatalf("leader endpoint %q, want %q", st.Leader.ClientEndpoint, leader.srv.ClientEndpoint())
	}

	// A follower refuses membership changes, naming the leader.
	code, body := adminDo(t, "POST", base(follower.srv)+"/cluster/members", `{"id":"x","raft_addr":"127.0.0.1:1"}`)
	if code != http.StatusMisdirectedRequest || !strings.Contains(body, leader.srv.ID()) {
		t.Fatalf("follower POST: %d %s", code, body)
	}
	if code, _ := adminDo(t, "POST", base(leader.srv)+"/cluster/members", `{"id":""}`); code != http.StatusBadRequest {
		t.Fatalf("bad body: %d", code)
	}

	// A fourth member joins, asking the follower first (refused) then the leader.
	cfg := Config{MemberID: "node-4", ClientAddr: "tcp://127.0.0.1:0", RaftAddr: "127.0.0.1:0", AdminAddr: "127.0.0.1:0",
		DataDir: t.TempDir(), Join: []string{follower.srv.AdminAddr(), "http://" + leader.srv.AdminAddr()}}
	srv, err := New(cfg, WithLogger(testLogger()), WithRaftConfig(fastRaft))
	if err != nil {
		t.Fatal(err)
	}
	m4 := &tmember{srv: srv, done: make(chan error, 1)}
	var runCtx context.Context
	runCtx, m4.cancel = context.WithCancel(context.Background())
	go func() { m4.done <- srv.Run(runCtx) }()
	cl.members = append(cl.members, m4)
	eventually(t, 30*time.Second, "node-4 ready", func() bool {
		code, _ := adminDo(t, "GET", base(srv)+"/readyz", "")
		return code == 200
	})
	getJSON(t, base(leader.srv)+"/cluster", &st)
	if len(st.Members) != 4 {
		t.Fatalf("after the join: %+v", st.Members)
	}
	eventually(t, 10*time.Second, "node-4 applied the session", func() bool { return srv.Status().Sessions == 1 })

	// And is removed again.
	if code, body := adminDo(t, "DELETE", base(leader.srv)+"/cluster/members/node-4", ""); code != 200 {
		t.Fatalf("DELETE: %d %s", code, body)
	}
	getJSON(t, base(leader.srv)+"/cluster", &st)
	if len(st.Members) != 3 {
		t.Fatalf("after the removal: %+v", st.Members)
	}
	for _, m := range st.Members {
		if m.ID == "node-4" {
			t.Fatal(fmt.Sprint("node-4 still a member: ", st.Members))
		}
	}
}

func TestPprofOnlyWhenConfigured(t *testing.T) {
	checkLeaks(t)
	for _, on := range []bool{false, true} {
		cl := newCluster(t, 1, func(c *Config) { c.Pprof = on }, nil)
		base := "http://" + cl.members[0].srv.AdminAddr()
		code, body := adminDo(t, "GET", base+"/debug/pprof/heap?debug=1&gc=1", "")
		switch {
		case on && (code != http.StatusOK || !strings.Contains(body, "heap profile") || !strings.Contains(body, "# HeapAlloc = ")):
			t.Fatalf("pprof on: heap profile %d %.200q", code, body)
		case !on && code != http.StatusNotFound:
			t.Fatalf("pprof off: /debug/pprof/heap answered %d", code)
		}
		if code, body := adminDo(t, "GET", base+"/debug/pprof/", ""); on != (code == http.StatusOK && strings.Contains(body, "goroutine")) {
			t.Fatalf("pprof %v: index %d %.200q", on, code, body)
		}
		if code, _ := adminDo(t, "GET", base+"/healthz", ""); code != http.StatusOK {
			t.Fatalf("pprof %v: /healthz %d", on, code)
		}
		cl.kill(cl.members[0])
	}
}
