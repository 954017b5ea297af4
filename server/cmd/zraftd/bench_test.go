package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
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
// ZRAFT_BENCH_SET_SECONDS (default 10) size it.

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
			"--max-connections", "20000")
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
			break
		}
	}
	if err := s.send(ctx, &protocol.CreateSession{Capabilities: protocol.Capabilities{{Key: "app", Value: "bench"}}, Nonce: 1}); err != nil {
		_ = c.Close()
		return nil, err
	}
	m, err := s.recv(ctx)
	if err != nil {
		_ = c.Close()
		return nil, err
	}
	if _, ok := m.(*protocol.SessionCreated); !ok {
		_ = c.Close()
		return nil, fmt.Errorf("create session: %#v", m)
	}
	return s, nil
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

	runSets(t, ctx, endpoint, 1, time.Duration(envInt("ZRAFT_BENCH_SET_SECONDS", 10))*time.Second)
	runSets(t, ctx, endpoint, 1000, time.Duration(envInt("ZRAFT_BENCH_SET_SECONDS", 10))*time.Second)

	// Idle sessions with keep-alives every second.
	n := envInt("ZRAFT_BENCH_IDLE_SESSIONS", 1000)
	idle := time.Duration(envInt("ZRAFT_BENCH_IDLE_SECONDS", 20)) * time.Second
	time.Sleep(3 * time.Second) // the Set sessions' connections are gone
	lRSS0, _ := procStats(t, leader.p.cmd.Process.Pid)
	fRSS0, _ := procStats(t, followers[0].p.cmd.Process.Pid)
	sessions := make([]*benchSession, n)
	var wg sync.WaitGroup
	sem := make(chan struct{}, 64)
	var failed atomic.Int64
	var firstErr atomic.Value
	for i := range n {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			s, err := openSession(ctx, endpoint)
			if err != nil {
				failed.Add(1)
				firstErr.CompareAndSwap(nil, err.Error())
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
	if f := failed.Load(); f > 0 {
		t.Fatalf("%d of %d sessions failed to open; first: %v", f, n, firstErr.Load())
	}
	kaCtx, stopKA := context.WithCancel(ctx)
	var kaWG sync.WaitGroup
	var answered atomic.Int64
	for i, s := range sessions {
		kaWG.Go(func() {
			// Spread the keep-alives over the second.
			time.Sleep(time.Duration(i) * time.Second / time.Duration(n))
			tick := time.NewTicker(time.Second)
			defer tick.Stop()
			for {
				select {
				case <-kaCtx.Done():
					return
				case <-tick.C:
					_ = s.send(kaCtx, &protocol.KeepAlive{Timestamp: protocol.Timestamp(time.Now().UnixMilli())})
				}
			}
		})
		kaWG.Go(func() {
			for {
				if _, err := s.recv(kaCtx); err != nil {
					return
				}
				answered.Add(1)
			}
		})
	}
	time.Sleep(5 * time.Second) // settle
	_, l0 := procStats(t, leader.p.cmd.Process.Pid)
	_, f0 := procStats(t, followers[0].p.cmd.Process.Pid)
	a0 := answered.Load()
	time.Sleep(idle)
	lRSS, l1 := procStats(t, leader.p.cmd.Process.Pid)
	fRSS, f1 := procStats(t, followers[0].p.cmd.Process.Pid)
	a1 := answered.Load()
	stopKA()
	kaWG.Wait()
	const hz = 100 // USER_HZ on Linux
	t.Logf("%d idle sessions, keep-alive every 1s, %v window: %.0f keep-alive answers/s", n, idle, float64(a1-a0)/idle.Seconds())
	t.Logf("leader: CPU %.1f%% of one core, RSS %.1f MiB (%.1f MiB before the sessions): %.1f KiB per session (connection included)",
		float64(l1-l0)/hz/idle.Seconds()*100, float64(lRSS)/(1<<20), float64(lRSS0)/(1<<20), float64(lRSS-lRSS0)/float64(n)/1024)
	t.Logf("follower (no connections): CPU %.1f%% of one core, RSS %.1f MiB (%.1f before): %.2f KiB per session of replicated state",
		float64(f1-f0)/hz/idle.Seconds()*100, float64(fRSS)/(1<<20), float64(fRSS0)/(1<<20), float64(fRSS-fRSS0)/float64(n)/1024)
}
