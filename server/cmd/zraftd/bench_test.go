package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/zraft/zraft/adapters/zmtp"
	"github.com/zraft/zraft/protocol"
	"github.com/zraft/zraft/protocol/kvwire"
)

// The cluster benchmark runs three zraftd processes on 127.0.0.1 and drives them from
// this process, so that the leader's CPU and memory are its own (read from /proc).
// It is a report, not a unit test: ZRAFT_BENCH_CLUSTER=1 enables it;
// ZRAFT_BENCH_IDLE_SESSIONS (default 1000), ZRAFT_BENCH_IDLE_SECONDS (default 20) and
// ZRAFT_BENCH_SET_SECONDS (default 10) size it; ZRAFT_BENCH_SETS=0 skips the Set runs,
// ZRAFT_BENCH_BIN runs a zraftd built elsewhere (e.g. an older commit, to compare;
// it must have --pprof), ZRAFT_BENCH_WRITERS (default 4) sets the keep-alive writer goroutines, and
// ZRAFT_BENCH_PROFILE_DIR saves the leader's heap and CPU profiles (and the follower's
// heap profile) there: heap profiles before the sessions and at rest, a CPU profile
// under the keep-alives after the measured window.
//
// Memory is read three ways: RSS (/proc), and, from the heap profile's MemStats right
// after a forced GC (zraftd runs with --pprof), the live heap and the goroutine stacks in
// use, both under the keep-alive load and at rest (keep-alives paused 3 s).

type benchMember struct {
	id, client, admin string
	p                 *proc
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

func startBenchCluster(t *testing.T) []*benchMember {
	bin := buildZraftd(t)
	var ms []*benchMember
	var boot []string
	raft := make([]string, 3)
	for i := range 3 {
		m := &benchMember{id: fmt.Sprintf("node-%d", i+1), client: "tcp://" + freePort(t), admin: freePort(t)}
		raft[i] = freePort(t)
		boot = append(boot, fmt.Sprintf("%s=%s|%s", m.id, raft[i], m.client))
		ms = append(ms, m)
	}
	for i, m := range ms {
		m.p = start(t, bin, t.TempDir(), "--id", m.id, "--client-addr", m.client, "--raft-addr", raft[i],
			"--admin-addr", m.admin, "--data", filepath.Join(t.TempDir(), m.id), "--bootstrap", strings.Join(boot, ","),
			"--max-connections", "20000", "--pprof")
	}
	for _, m := range ms {
		waitReady(t, m.admin, m.p)
	}
	return ms
}

func leaderOf(t *testing.T, ms []*benchMember) (*benchMember, []*benchMember) {
	resp, err := http.Get("http://" + ms[0].admin + "/cluster")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var st struct {
		Leader struct{ ID string } `json:"leader"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		t.Fatal(err)
	}
	var leader *benchMember
	var others []*benchMember
	for _, m := range ms {
		if m.id == st.Leader.ID {
			leader = m
		} else {
			others = append(others, m)
		}
	}
	if leader == nil {
		t.Fatalf("no leader in %+v", st)
	}
	return leader, others
}

// procStats reads a process's resident memory (bytes) and CPU time (clock ticks).
func procStats(t *testing.T, pid int) (rss int64, ticks int64) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.Fields(v)[0], 10, 64)
			rss = kb << 10
		}
	}
	b, err = os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		t.Fatal(err)
	}
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+2:]))
	ut, _ := strconv.ParseInt(f[11], 10, 64) // utime, field 14
	st, _ := strconv.ParseInt(f[12], 10, 64) // stime, field 15
	return rss, ut + st
}

// benchSession is one session on its own connection.
type benchSession struct {
	c      *zmtp.Client
	nextID protocol.RequestID
}

func openSession(ctx context.Context, endpoint string) (*benchSession, error) {
	s, err := dialBenchSession(ctx, endpoint)
	if err != nil {
		return nil, err
	}
	if err := s.send(ctx, &protocol.CreateSession{Capabilities: protocol.Capabilities{{Key: "app", Value: "bench"}}, Nonce: 1}); err != nil {
		_ = s.c.Close()
		return nil, err
	}
	m, err := s.recv(ctx)
	if err != nil {
		_ = s.c.Close()
		return nil, err
	}
	if _, ok := m.(*protocol.SessionCreated); !ok {
		_ = s.c.Close()
		return nil, fmt.Errorf("create session: %#v", m)
	}
	return s, nil
}

// dialBenchSession connects to endpoint and waits for the connection to be up.
func dialBenchSession(ctx context.Context, endpoint string) (*benchSession, error) {
	c, err := zmtp.NewClient()
	if err != nil {
		return nil, err
	}
	if err := c.Connect(endpoint); err != nil {
		_ = c.Close()
		return nil, err
	}
	s := &benchSession{c: c, nextID: 1}
	for {
		ev, err := c.Recv(ctx)
		if err != nil {
			_ = c.Close()
			return nil, err
		}
		if ev.Kind == zmtp.EventUp {
			return s, nil
		}
	}
}

func (s *benchSession) send(ctx context.Context, m protocol.ClientMessage) error {
	b, err := protocol.AppendClientMessage(nil, m)
	if err != nil {
		return err
	}
	return s.c.Send(ctx, b)
}

func (s *benchSession) recv(ctx context.Context) (protocol.ServerMessage, error) {
	for {
		ev, err := s.c.Recv(ctx)
		if err != nil {
			return nil, err
		}
		switch ev.Kind {
		case zmtp.EventMessage:
			return protocol.DecodeServerMessage(ev.Data)
		case zmtp.EventDown:
			return nil, fmt.Errorf("connection down: %v", ev.Reason)
		}
	}
}

// set runs one Set and returns its round-trip time.
func (s *benchSession) set(ctx context.Context, key, value string) (time.Duration, error) {
	payload, _ := kvwire.AppendCommand(nil, kvwire.Set{Key: key, Value: value})
	id := s.nextID
	s.nextID++
	start := time.Now()
	if err := s.send(ctx, &protocol.ClientRequest{RequestID: id, LowestPendingRequestID: id, Payload: payload}); err != nil {
		return 0, err
	}
	for {
		m, err := s.recv(ctx)
		if err != nil {
			return 0, err
		}
		if r, ok := m.(*protocol.ClientResponse); ok && r.RequestID == id {
			return time.Since(start), nil
		}
	}
}

func percentile(d []time.Duration, p float64) time.Duration {
	slices.Sort(d)
	return d[min(len(d)-1, int(float64(len(d))*p))]
}

// runSets drives n sessions in closed loops for the duration and reports throughput
// and latency percentiles.
func runSets(t *testing.T, ctx context.Context, endpoint string, n int, d time.Duration) {
	sessions := make([]*benchSession, n)
	var wg sync.WaitGroup
	var openErr atomic.Value
	for i := range n {
		wg.Go(func() {
			s, err := openSession(ctx, endpoint)
			if err != nil {
				openErr.Store(err)
				return
			}
			sessions[i] = s
		})
	}
	wg.Wait()
	defer func() {
		for _, s := range sessions {
			if s != nil {
				_ = s.c.Close()
			}
		}
	}()
	if err := openErr.Load(); err != nil {
		t.Fatalf("open %d sessions: %v", n, err)
	}
	lat := make([][]time.Duration, n)
	deadline := time.Now().Add(d)
	for i, s := range sessions {
		wg.Go(func() {
			for j := 0; time.Now().Before(deadline); j++ {
				rt, err := s.set(ctx, "k"+strconv.Itoa(i), strconv.Itoa(j))
				if err != nil {
					t.Errorf("set: %v", err)
					return
				}
				lat[i] = append(lat[i], rt)
			}
		})
	}
	wg.Wait()
	all := slices.Concat(lat...)
	if len(all) == 0 {
		t.Fatal("no sets completed")
	}
	t.Logf("sets with %d session(s): %d in %v = %.0f/s; p50 %v, p99 %v", n, len(all), d,
		float64(len(all))/d.Seconds(), percentile(all, 0.50).Round(10*time.Microsecond), percentile(all, 0.99).Round(10*time.Microsecond))
}

func TestBenchCluster(t *testing.T) {
	if os.Getenv("ZRAFT_BENCH_CLUSTER") != "1" {
		t.Skip("ZRAFT_BENCH_CLUSTER=1 runs the cluster benchmark")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	ms := startBenchCluster(t)
	leader, followers := leaderOf(t, ms)
	endpoint := leader.client

	if os.Getenv("ZRAFT_BENCH_SETS") != "0" {
		runSets(t, ctx, endpoint, 1, time.Duration(envInt("ZRAFT_BENCH_SET_SECONDS", 10))*time.Second)
		runSets(t, ctx, endpoint, 1000, time.Duration(envInt("ZRAFT_BENCH_SET_SECONDS", 10))*time.Second)
	}

	// Idle sessions with keep-alives every second.
	n := envInt("ZRAFT_BENCH_IDLE_SESSIONS", 1000)
	idle := time.Duration(envInt("ZRAFT_BENCH_IDLE_SECONDS", 20)) * time.Second
	time.Sleep(3 * time.Second) // the Set sessions' connections are gone
	lMem0 := memoryOf(t, leader)
	fMem0 := memoryOf(t, followers[0])
	profiles := os.Getenv("ZRAFT_BENCH_PROFILE_DIR")
	if profiles != "" {
		// The base for pprof -diff_base: what the sessions add.
		saveProfile(t, leader, "heap?gc=1", filepath.Join(profiles, "leader-heap-before.pb.gz"))
		saveProfile(t, followers[0], "heap?gc=1", filepath.Join(profiles, "follower-heap-before.pb.gz"))
	}
	sessions := make([]*rawSession, n)
	var wg sync.WaitGroup
	sem := make(chan struct{}, 64)
	var failed atomic.Int64
	var firstErr atomic.Value
	for i := range n {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			s, err := openRawSession(ctx, endpoint)
			if err != nil {
				failed.Add(1)
				firstErr.CompareAndSwap(nil, err.Error())
				return
			}
			sessions[i] = s
		})
	}
	wg.Wait()
	if f := failed.Load(); f > 0 {
		for _, s := range sessions {
			if s != nil {
				_ = s.nc.Close()
			}
		}
		t.Fatalf("%d of %d sessions failed to open; first: %v", f, n, firstErr.Load())
	}
	load := startKeepAlives(ctx, sessions, time.Second, envInt("ZRAFT_BENCH_WRITERS", 4))
	defer load.stop(sessions)
	time.Sleep(5 * time.Second) // settle
	_, l0 := procStats(t, leader.p.cmd.Process.Pid)
	_, f0 := procStats(t, followers[0].p.cmd.Process.Pid)
	self0 := selfCPU()
	a0, s0 := load.answered.Load(), load.sent.Load()
	start := time.Now()
	time.Sleep(idle)
	_, l1 := procStats(t, leader.p.cmd.Process.Pid)
	_, f1 := procStats(t, followers[0].p.cmd.Process.Pid)
	self1 := selfCPU()
	a1, s1 := load.answered.Load(), load.sent.Load()
	window := time.Since(start)
	lMem := memoryOf(t, leader)
	fMem := memoryOf(t, followers[0])
	if profiles != "" {
		// After the measured window: profiling costs the leader CPU.
		saveProfile(t, leader, "profile?seconds=10", filepath.Join(profiles, "leader-cpu.pb.gz"))
	}
	// At rest: the keep-alives pause for 3 s (well within the session timeout), so that
	// what is in flight (read bursts, writers, queued replies) is done; the sessions and
	// their connections stay.
	load.pause()
	time.Sleep(3 * time.Second)
	lRest := memoryOf(t, leader)
	if dir := profiles; dir != "" {
		saveProfile(t, leader, "heap?gc=1", filepath.Join(dir, "leader-heap.pb.gz")) // at rest
		saveProfile(t, leader, "goroutine?debug=1", filepath.Join(dir, "leader-goroutines.txt"))
		saveProfile(t, followers[0], "heap?gc=1", filepath.Join(dir, "follower-heap.pb.gz"))
	}
	if f := load.failed.Load(); f > 0 {
		t.Errorf("%d connections failed during the keep-alives; first: %v", f, load.firstErr.Load())
	}
	if o := load.other.Load(); o > 0 {
		t.Errorf("%d answers were not KeepAliveResponse; first: %v", o, load.firstOther.Load())
	}
	if now, _ := leaderOf(t, ms); now != leader {
		t.Errorf("the leader changed from %s to %s during the run; %s's log ends:\n%s", leader.id, now.id, leader.id, tail(leader.p.stderr.String(), 3000))
	}
	const hz = 100 // USER_HZ on Linux
	sec := window.Seconds()
	answers := float64(a1 - a0)
	lCPU := float64(l1-l0) / hz
	t.Logf("%d idle sessions, keep-alive every 1s, %.1fs window: %.0f keep-alives sent/s, %.0f answered/s (intended %d/s); load generator %.1f%% of one core",
		n, sec, float64(s1-s0)/sec, answers/sec, n, (self1-self0).Seconds()/sec*100)
	t.Logf("leader: CPU %.1f%% of one core = %.1f µs per keep-alive answered", lCPU/sec*100, lCPU/answers*1e6)
	t.Logf("leader: RSS %.1f → %.1f MiB = %.2f KiB per session; live heap %.1f → %.1f MiB, stacks %.1f → %.1f MiB: %.2f KiB per session (heap %.2f + stacks %.2f), goroutines %d → %d",
		mib(lMem0.rss), mib(lMem.rss), perSession(lMem.rss-lMem0.rss, n),
		mib(lMem0.heap), mib(lMem.heap), mib(lMem0.stack), mib(lMem.stack),
		perSession(lMem.heap+lMem.stack-lMem0.heap-lMem0.stack, n), perSession(lMem.heap-lMem0.heap, n), perSession(lMem.stack-lMem0.stack, n),
		lMem0.goroutines, lMem.goroutines)
	t.Logf("leader at rest (keep-alives paused 3s): RSS %.1f MiB; live heap %.1f MiB, stacks %.1f MiB: %.2f KiB per session (heap %.2f + stacks %.2f), goroutines %d",
		mib(lRest.rss), mib(lRest.heap), mib(lRest.stack), perSession(lRest.heap+lRest.stack-lMem0.heap-lMem0.stack, n),
		perSession(lRest.heap-lMem0.heap, n), perSession(lRest.stack-lMem0.stack, n), lRest.goroutines)
	t.Logf("leader at rest, the runtime's view: heap spans in use %.1f MiB, idle spans kept from the OS %.1f MiB, obtained from the OS in all %.1f MiB (before the sessions: %.1f, %.1f, %.1f)",
		mib(lRest.heapInuse), mib(lRest.heapIdleKept), mib(lRest.sys), mib(lMem0.heapInuse), mib(lMem0.heapIdleKept), mib(lMem0.sys))
	t.Logf("follower (no connections): CPU %.1f%% of one core; RSS %.1f → %.1f MiB = %.2f KiB per session; live heap %.1f → %.1f MiB = %.2f KiB per session",
		float64(f1-f0)/hz/sec*100, mib(fMem0.rss), mib(fMem.rss), perSession(fMem.rss-fMem0.rss, n),
		mib(fMem0.heap), mib(fMem.heap), perSession(fMem.heap-fMem0.heap, n))
}

func tail(s string, n int) string { return s[max(0, len(s)-n):] }

func mib(b int64) float64               { return float64(b) / (1 << 20) }
func perSession(b int64, n int) float64 { return float64(b) / float64(n) / 1024 }

// selfCPU is this process's CPU time (the load generator's).
func selfCPU() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// memory is one reading of a member's memory: RSS from /proc, then the live heap and
// the goroutine stacks in use right after a garbage collection (the heap profile's
// MemStats with gc=1, zraftd runs with --pprof), and the number of goroutines.
type memory struct {
	rss, heap, stack int64
	goroutines       int
	// From the same MemStats: what the runtime holds beyond the live heap (the heap's
	// spans in use, idle spans not yet returned to the OS, and everything it got).
	heapInuse, heapIdleKept, sys int64
}

func memoryOf(t *testing.T, m *benchMember) memory {
	t.Helper()
	var out memory
	out.rss, _ = procStats(t, m.p.cmd.Process.Pid)
	body := fetch(t, m, "heap?gc=1&debug=1")
	for line := range strings.SplitSeq(string(body), "\n") {
		if v, ok := strings.CutPrefix(line, "# HeapAlloc = "); ok {
			out.heap, _ = strconv.ParseInt(v, 10, 64)
		}
		var released, idle int64
		for name, dst := range map[string]*int64{"# HeapInuse = ": &out.heapInuse, "# HeapIdle = ": &idle,
			"# HeapReleased = ": &released, "# Sys = ": &out.sys} {
			if v, ok := strings.CutPrefix(line, name); ok {
				*dst, _ = strconv.ParseInt(v, 10, 64)
			}
		}
		out.heapIdleKept += idle - released
		if v, ok := strings.CutPrefix(line, "# Stack = "); ok {
			inuse, _, _ := strings.Cut(v, " ")
			out.stack, _ = strconv.ParseInt(inuse, 10, 64)
		}
	}
	if out.heap == 0 || out.stack == 0 {
		t.Fatalf("no HeapAlloc or Stack in the heap profile of %s", m.id)
	}
	first, _, _ := strings.Cut(string(fetch(t, m, "goroutine?debug=1")), "\n")
	if v, ok := strings.CutPrefix(first, "goroutine profile: total "); ok {
		out.goroutines, _ = strconv.Atoi(v)
	}
	return out
}

func fetch(t *testing.T, m *benchMember, what string) []byte {
	t.Helper()
	resp, err := http.Get("http://" + m.admin + "/debug/pprof/" + what)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /debug/pprof/%s of %s: %d %v", what, m.id, resp.StatusCode, err)
	}
	return b
}

func saveProfile(t *testing.T, m *benchMember, what, path string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, fetch(t, m, what), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("wrote %s", path)
}
