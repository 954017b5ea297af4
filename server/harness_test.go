package server

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/zraft/zraft/adapters/raftnode"
	"github.com/zraft/zraft/domain/session"
)

// testLogger is quiet unless ZRAFT_TEST_LOG=1.
func testLogger() *slog.Logger {
	if os.Getenv("ZRAFT_TEST_LOG") == "1" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// fastRaft shortens consensus timings so that elections take well under a second, with
// room for a loaded machine.
func fastRaft(c *raftnode.Config) {
	c.HeartbeatTimeout = 500 * time.Millisecond
	c.ElectionTimeout = 500 * time.Millisecond
	c.LeaderLeaseTimeout = 250 * time.Millisecond
	c.CommitTimeout = 10 * time.Millisecond
}

// tmember is one member of a test cluster, running in this process.
type tmember struct {
	srv    *Server
	cancel context.CancelFunc
	done   chan error
	down   bool
}

// tcluster is an in-process cluster over real sockets on 127.0.0.1.
type tcluster struct {
	t       testing.TB
	members []*tmember
	// endpoints maps member ids to client endpoints, as a client would learn them.
	endpoints map[string]string
}

// newCluster starts n members with port-0 sockets and a data dir each; tune may change
// every member's Config, newApp gives each member its application (nil: kv), extra
// are options every member gets.
func newCluster(t testing.TB, n int, tune func(*Config), newApp func() session.Application, extra ...Option) *tcluster {
	t.Helper()
	c := &tcluster{t: t, endpoints: map[string]string{}}
	var boot []Member
	for i := range n {
		cfg := Config{
			MemberID:   fmt.Sprintf("node-%d", i+1),
			ClientAddr: "tcp://127.0.0.1:0",
			RaftAddr:   "127.0.0.1:0",
			AdminAddr:  "127.0.0.1:0",
			DataDir:    t.TempDir(),
		}
		if tune != nil {
			tune(&cfg)
		}
		opts := []Option{WithLogger(testLogger().With("member", cfg.MemberID)), WithRaftConfig(fastRaft)}
		if newApp != nil {
			opts = append(opts, WithApplication(newApp()))
		}
		opts = append(opts, extra...)
		srv, err := New(cfg, opts...)
		if err != nil {
			t.Fatalf("New(%s): %v", cfg.MemberID, err)
		}
		c.members = append(c.members, &tmember{srv: srv})
		boot = append(boot, srv.Member())
		c.endpoints[srv.ID()] = srv.ClientEndpoint()
	}
	for _, m := range c.members {
		m.srv.cfg.Bootstrap = boot // known only once every member is bound
		ctx, cancel := context.WithCancel(context.Background())
		m.cancel, m.done = cancel, make(chan error, 1)
		go func() { m.done <- m.srv.Run(ctx) }()
	}
	t.Cleanup(func() {
		for _, m := range c.members {
			c.kill(m)
		}
	})
	return c
}

// kill stops a member at once, as a crash would.
func (c *tcluster) kill(m *tmember) {
	if m.down {
		return
	}
	m.down = true
	_ = m.srv.Close()
	m.cancel()
	if err := <-m.done; err != nil && !errors.Is(err, ErrClosed) {
		c.t.Errorf("Run(%s): %v", m.srv.ID(), err)
	}
}

// leader waits until exactly one live member serves as the leader.
func (c *tcluster) leader(ctx context.Context) *tmember {
	c.t.Helper()
	for {
		var leaders []*tmember
		for _, m := range c.members {
			if !m.down && m.srv.IsLeader() {
				leaders = append(leaders, m)
			}
		}
		if len(leaders) == 1 {
			return leaders[0]
		}
		select {
		case <-ctx.Done():
			c.t.Fatalf("no single leader: %v", ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// follower returns a live member that does not lead.
func (c *tcluster) follower(ctx context.Context) *tmember {
	l := c.leader(ctx)
	for _, m := range c.members {
		if m != l && !m.down {
			return m
		}
	}
	c.t.Fatal("no live follower")
	return nil
}

func ctxFor(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// eventually polls cond until it holds or the timeout passes.
func eventually(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// checkLeaks fails the test if it leaves goroutines behind. Register it first, so that
// its cleanup runs last.
func checkLeaks(t *testing.T) {
	before := runtime.NumGoroutine()
	t.Cleanup(func() {
		deadline := time.Now().Add(15 * time.Second)
		for {
			n := runtime.NumGoroutine()
			if n <= before {
				return
			}
			if time.Now().After(deadline) {
				buf := make([]byte, 1<<20)
				buf = buf[:runtime.Stack(buf, true)]
				t.Errorf("%d goroutines before, %d after:\n%s", before, n, buf)
				return
			}
			time.Sleep(50 * time.Millisecond)
		}
	})
}

// counterApp counts "incr" commands: the reply is the counter after the increment, so
// a command applied twice shows as a gap or a repeated value.
type counterApp struct {
	mu sync.Mutex // tests read n from outside the machine
	n  uint64
}

func (a *counterApp) Apply(_ *session.Env, _ string, payload []byte) ([]byte, error) {
	if string(payload) != "incr" {
		return nil, errors.New("unknown command")
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	a.n++
	return []byte(strconv.FormatUint(a.n, 10)), nil
}

func (a *counterApp) ApplyInternal(*session.Env, []byte) ([]byte, error) {
	return nil, errors.New("no internal commands")
}

func (a *counterApp) Query(string, []byte) ([]byte, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return []byte(strconv.FormatUint(a.n, 10)), nil
}

func (a *counterApp) SessionCreated(*session.Env, string, []session.Capability) error { return nil }
func (a *counterApp) SessionEnded(*session.Env, string, session.EndReason)            {}

func (a *counterApp) AppendSnapshot(dst []byte) []byte {
	a.mu.Lock()
	defer a.mu.Unlock()
	return binary.BigEndian.AppendUint64(dst, a.n)
}

func (a *counterApp) Restore(b []byte) error {
	if len(b) != 8 {
		return errors.New("counter snapshot must be 8 bytes")
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	a.n = binary.BigEndian.Uint64(b)
	return nil
}

func (a *counterApp) value() uint64 {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.n
}

// hasSession reports whether the member's replicated state holds the session.
func hasSession(m *tmember, id string) bool {
	_, ok := m.srv.sm.Session(id)
	return ok
}

func shortID(s string) string { return strings.SplitN(s, "-", 2)[0] }
