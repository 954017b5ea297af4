package raftnodetest

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/zraft/zraft/adapters/raftnode"
)

// Options configure a test cluster. Zero values pick test-friendly defaults.
type Options struct {
	// Members is the number of founding members (default 3).
	Members int
	// Stores opens a member's stores under its data dir. Default: raftnode's (Pebble and
	// file snapshots on disk under the member's data dir).
	Stores func(dataDir string) (raftnode.Stores, error)
	// InMemory keeps logs in raft's InmemStore instead (kept across Kill/Restart as a
	// disk would be); snapshots still go to files.
	InMemory bool
	// Configure adjusts each member's config before it starts.
	Configure func(c *raftnode.Config)
	// NewStateMachine makes a member's state machine at every (re)start; default: a new
	// KV (Member.KV).
	NewStateMachine func(memberID string) raftnode.StateMachine
	// Logger receives the members' logs; default: discarded unless testing.Verbose().
	Logger *slog.Logger
}

// Cluster is a set of raftnode members on 127.0.0.1 in one process, talking real TCP.
type Cluster struct {
	t       testing.TB
	opts    Options
	base    string
	Net     *Network
	mu      sync.Mutex
	members []*Member
}

// Member is one cluster member of the harness.
type Member struct {
	ID       string
	Dir      string
	RaftAddr string                // fixed after the first start, so restarts keep it
	KV       *KV                   // the state machine when Options.NewStateMachine is nil
	SM       raftnode.StateMachine // the state machine of the current run
	node     *raftnode.Node
	stores   raftnode.Stores // reused across restarts with Options.InMemory
}

// Node returns the running node (nil while killed).
func (m *Member) Node() *raftnode.Node { return m.node }

// FastConfig sets timeouts fit for tests on a loaded machine under the race detector:
// elections within a few seconds, but no spurious ones from scheduling hiccups (with
// 300-800ms heartbeat timeouts, leaders lost their quorum for ~900ms under 32 concurrent
// proposers with -race on 2 cores at load average 19).
func FastConfig(c *raftnode.Config) {
	c.HeartbeatTimeout = 1500 * time.Millisecond
	c.ElectionTimeout = 1500 * time.Millisecond
	c.LeaderLeaseTimeout = 1200 * time.Millisecond
	c.ReadLeaseTimeout = 700 * time.Millisecond
	c.CommitTimeout = 5 * time.Millisecond
	c.SnapshotInterval = time.Hour // tests trigger snapshots explicitly or by threshold
}

// New starts a bootstrapped cluster and registers its shutdown with t.Cleanup.
func New(t testing.TB, opts Options) *Cluster {
	t.Helper()
	if opts.Members == 0 {
		opts.Members = 3
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
		if testing.Verbose() {
			opts.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
		}
	}
	// TempDir before Cleanup(Close): cleanups run last-in first-out, and the members
	// must be closed before their directories are removed.
	c := &Cluster{t: t, opts: opts, Net: NewNetwork(), base: t.TempDir()}
	t.Cleanup(c.Close)
	for i := 0; i < opts.Members; i++ {
		c.startNew()
	}
	var founders []raftnode.Member
	for _, m := range c.members {
		founders = append(founders, m.node.Self())
	}
	for _, m := range c.members {
		if err := m.node.Bootstrap(context.Background(), founders...); err != nil {
			t.Fatalf("bootstrap %s: %v", m.ID, err)
		}
	}
	return c
}

// Members returns the members (killed ones included).
func (c *Cluster) Members() []*Member {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]*Member(nil), c.members...)
}

// startNew creates and starts a member that is not yet in any configuration.
func (c *Cluster) startNew() *Member {
	c.mu.Lock()
	i := len(c.members)
	m := &Member{ID: fmt.Sprintf("m%d", i+1), Dir: filepath.Join(c.base, fmt.Sprintf("m%d", i+1)), RaftAddr: "127.0.0.1:0"}
	c.members = append(c.members, m)
	c.mu.Unlock()
	c.start(m)
	return m
}

// AddMember starts a new empty member and has the leader add it.
func (c *Cluster) AddMember(ctx context.Context) (*Member, error) {
	m := c.startNew()
	leader, err := c.WaitLeader(ctx)
	if err != nil {
		return m, err
	}
	return m, leader.node.AddMember(ctx, m.node.Self())
}

func (c *Cluster) start(m *Member) {
	c.t.Helper()
	if err := os.MkdirAll(m.Dir, 0o755); err != nil {
		c.t.Fatal(err)
	}
	cfg := raftnode.Config{
		MemberID:        m.ID,
		BindAddr:        m.RaftAddr,
		ClientEndpoint:  "tcp://" + m.ID + ".client:7001",
		DataDir:         m.Dir,
		Logger:          c.opts.Logger,
		WrapStreamLayer: c.Net.Wrap,
	}
	FastConfig(&cfg)
	cfg.Stores = c.opts.Stores
	if cfg.Stores == nil && c.opts.InMemory {
		if m.stores.Log == nil {
			s, err := InmemStores(m.Dir)
			if err != nil {
				c.t.Fatal(err)
			}
			m.stores = s
		}
		s := m.stores
		cfg.Stores = func(string) (raftnode.Stores, error) { return s, nil }
	}
	if c.opts.Configure != nil {
		c.opts.Configure(&cfg)
	}
	if c.opts.NewStateMachine != nil {
		m.SM = c.opts.NewStateMachine(m.ID)
	} else {
		m.KV = NewKV()
		m.SM = m.KV
	}
	node, err := raftnode.New(cfg, m.SM)
	if err != nil {
		c.t.Fatalf("start %s: %v", m.ID, err)
	}
	m.node = node
	m.RaftAddr = node.RaftAddr()
}

// InmemStores keeps the log and stable store in memory and snapshots in files under dir.
func InmemStores(dir string) (raftnode.Stores, error) {
	snaps, err := raft.NewFileSnapshotStore(filepath.Join(dir, "snapshots"), 2, io.Discard)
	if err != nil {
		return raftnode.Stores{}, err
	}
	s := raft.NewInmemStore()
	return raftnode.Stores{Log: s, Stable: s, Snapshots: snaps}, nil
}

// Kill stops member m abruptly (no leadership transfer).
func (c *Cluster) Kill(m *Member) {
	c.t.Helper()
	if m.node == nil {
		return
	}
	if err := m.node.Close(); err != nil {
		c.t.Logf("close %s: %v", m.ID, err)
	}
	m.node = nil
}

// Restart starts a killed member again on its data dir and raft address.
func (c *Cluster) Restart(m *Member) {
	c.t.Helper()
	if m.node != nil {
		c.t.Fatalf("restart %s: still running", m.ID)
	}
	c.start(m)
}

// Isolate cuts m off from every other member.
func (c *Cluster) Isolate(m *Member) {
	for _, o := range c.Members() {
		if o != m {
			c.Net.Cut(m.RaftAddr, o.RaftAddr)
		}
	}
}

// Heal removes every cut.
func (c *Cluster) Heal() { c.Net.HealAll() }

// Running returns the running members.
func (c *Cluster) Running() []*Member {
	var out []*Member
	for _, m := range c.Members() {
		if m.node != nil {
			out = append(out, m)
		}
	}
	return out
}

// WaitLeader polls until exactly one running member is the ready leader, among those
// that are not in `except`, and returns it.
func (c *Cluster) WaitLeader(ctx context.Context, except ...*Member) (*Member, error) {
	for {
		var leaders []*Member
	next:
		for _, m := range c.Running() {
			for _, e := range except {
				if e == m {
					continue next
				}
			}
			if m.node.IsLeader() {
				leaders = append(leaders, m)
			}
		}
		if len(leaders) == 1 {
			return leaders[0], nil
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("raftnodetest: no single leader (%d): %w", len(leaders), ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// Propose proposes cmd on whichever member leads, retrying through elections until ctx
// ends.
func (c *Cluster) Propose(ctx context.Context, cmd []byte) (any, error) {
	for {
		l, err := c.WaitLeader(ctx)
		if err != nil {
			return nil, err
		}
		res, err := l.node.Propose(ctx, cmd)
		if err == nil || ctx.Err() != nil {
			return res, err
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// WaitApplied polls until member m's state machine applied index.
func (c *Cluster) WaitApplied(ctx context.Context, m *Member, index uint64) error {
	for {
		if n := m.node; n != nil && n.Stats().AppliedIndex >= index {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("raftnodetest: %s did not apply %d: %w", m.ID, index, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// Get reads key from member m's local state (a stale read).
func (m *Member) Get(key string) (v string, ok bool) {
	_ = m.node.Read(context.Background(), raftnode.Stale, func() { v, ok = m.KV.Get(key) })
	return v, ok
}

// Close shuts every running member down.
func (c *Cluster) Close() {
	for _, m := range c.Members() {
		if m.node != nil {
			_ = m.node.Close()
			m.node = nil
		}
	}
}
