package raftnode_test

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/zraft/zraft/adapters/raftnode"
	"github.com/zraft/zraft/adapters/raftnode/raftnodetest"
	"github.com/zraft/zraft/domain/session"
)

// counters is a tiny session.Application: "inc NAME" adds one and replies the value;
// the query "get NAME" replies it.
type counters struct{ m map[string]int64 }

func (c *counters) Apply(_ *session.Env, _ string, p []byte) ([]byte, error) {
	name, ok := strings.CutPrefix(string(p), "inc ")
	if !ok {
		return nil, fmt.Errorf("unknown command %q", p)
	}
	c.m[name]++
	return []byte(strconv.FormatInt(c.m[name], 10)), nil
}
func (c *counters) ApplyInternal(*session.Env, []byte) ([]byte, error) { return nil, nil }
func (c *counters) Query(_ string, p []byte) ([]byte, error) {
	return []byte(strconv.FormatInt(c.m[strings.TrimPrefix(string(p), "get ")], 10)), nil
}
func (c *counters) SessionCreated(*session.Env, string, []session.Capability) error { return nil }
func (c *counters) SessionEnded(*session.Env, string, session.EndReason)            {}
func (c *counters) AppendSnapshot(dst []byte) []byte {
	keys := make([]string, 0, len(c.m))
	for k := range c.m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		dst = fmt.Appendf(dst, "%s=%d\n", k, c.m[k])
	}
	return dst
}
func (c *counters) Restore(b []byte) error {
	c.m = map[string]int64{}
	for _, line := range strings.Split(strings.TrimSuffix(string(b), "\n"), "\n") {
		if line == "" {
			continue
		}
		k, v, _ := strings.Cut(line, "=")
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return err
		}
		c.m[k] = n
	}
	return nil
}

func encode(t *testing.T, cmd session.Command) []byte {
	t.Helper()
	b, err := session.EncodeCommand(nil, cmd)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func sessionCluster(t *testing.T, configure func(*raftnode.Config)) *raftnodetest.Cluster {
	return raftnodetest.New(t, raftnodetest.Options{
		NewStateMachine: func(string) raftnode.StateMachine {
			return raftnode.NewSessionMachine(session.New(session.Config{}, &counters{m: map[string]int64{}}))
		},
		Configure: func(cfg *raftnode.Config) {
			cfg.LeaderStartedCommand = raftnode.SessionLeaderStarted(time.Now)
			if configure != nil {
				configure(cfg)
			}
		},
	})
}

func machineOf(m *raftnodetest.Member) *session.Machine {
	return m.SM.(*raftnode.SessionMachine).Machine()
}

func TestSessionsSurviveLeaderChangeAndSnapshots(t *testing.T) {
	checkNoLeaks(t)
	c := sessionCluster(t, func(cfg *raftnode.Config) {
		cfg.SnapshotThreshold = 16
		cfg.TrailingLogs = 4
		cfg.SnapshotInterval = 100 * time.Millisecond
	})
	ctx := ctxFor(t, 120*time.Second)
	leader, err := c.WaitLeader(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// The leader's LeaderStarted entry reached the machine before leadership was announced.
	var term uint64
	_ = leader.Node().Read(ctx, raftnode.Stale, func() { term = machineOf(leader).Term() })
	if term != leader.Node().State().Term {
		t.Fatalf("machine term %d, leader term %d", term, leader.Node().State().Term)
	}
	const sid = "0f8fad5b-d9cb-469f-a165-70867728950e"
	now := time.Now().UnixMilli()
	res, err := leader.Node().Propose(ctx, encode(t, session.CreateSession{At: now, ID: sid, Capabilities: []session.Capability{{Key: "k", Value: "v"}}}))
	if err != nil || res.(session.Result).Outcomes[0].Kind != session.Done {
		t.Fatalf("create: %+v %v", res, err)
	}
	var lagger *raftnodetest.Member
	for _, m := range c.Members() {
		if m != leader {
			lagger = m
			break
		}
	}
	c.Isolate(lagger)
	var last session.Outcome
	for id := uint64(1); id <= 40; id++ {
		res, err := c.Propose(ctx, encode(t, session.ClientRequest{At: now, Session: sid, RequestID: id, LowestPending: id, Payload: []byte("inc x")}))
		if err != nil {
			t.Fatal(err)
		}
		last = res.(session.Result).Outcomes[0]
		if last.Kind != session.Replied || string(last.Data) != strconv.FormatUint(id, 10) {
			t.Fatalf("request %d: %+v", id, last)
		}
	}
	// A malformed entry is an error for its proposer, not a stopped replica.
	if res, err := c.Propose(ctx, []byte{0xff, 0x00}); err != nil {
		t.Fatalf("propose malformed: %v", err)
	} else if _, isErr := res.(error); !isErr {
		t.Fatalf("malformed entry gave %+v", res)
	}

	// Wait until the leader's log was compacted past what the lagger has (it was isolated
	// right after the creation, near index 3; 4 trailing entries are kept), so that healing
	// must bring the lagger up by a snapshot install and not by log replay.
	for leader.Node().Stats().LastSnapshotIndex < 20 {
		select {
		case <-ctx.Done():
			t.Fatalf("leader never snapshotted: %+v", leader.Node().Stats())
		case <-time.After(50 * time.Millisecond):
		}
	}
	// The lagging member is brought up by a snapshot that carries the sessions.
	var reply session.Outcome
	var exists bool
	c.Heal()
	if err := c.WaitApplied(ctx, lagger, leader.Node().Stats().CommitIndex); err != nil {
		t.Fatal(err)
	}
	if lagger.Node().Stats().LastSnapshotIndex == 0 {
		t.Fatal("the lagger caught up without a snapshot")
	}
	_ = lagger.Node().Read(ctx, raftnode.Stale, func() {
		reply = machineOf(lagger).Query(sid, []byte("get x"))
		_, exists = machineOf(lagger).Session(sid)
	})
	if !exists || string(reply.Data) != "40" {
		t.Fatalf("lagger: session %v, x = %+v", exists, reply)
	}
	// Kill the leader: the new leader has the session, its response cache and the
	// application's state.
	c.Kill(leader)
	nl, err := c.WaitLeader(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := nl.Node().Read(ctx, raftnode.Linearizable, func() {
		reply = machineOf(nl).Query(sid, []byte("get x"))
		_, exists = machineOf(nl).Session(sid)
	}); err != nil {
		t.Fatal(err)
	}
	if !exists || string(reply.Data) != "40" {
		t.Fatalf("after failover: session %v, x = %+v", exists, reply)
	}
	// A retry of request 40 (its reply was lost with the old leader) is answered from the
	// cache, not applied again.
	res, err = c.Propose(ctx, encode(t, session.ClientRequest{At: now, Session: sid, RequestID: 40, LowestPending: 40, Payload: []byte("inc x")}))
	if err != nil {
		t.Fatal(err)
	}
	if o := res.(session.Result).Outcomes[0]; !o.Cached || string(o.Data) != "40" {
		t.Fatalf("retry: %+v", o)
	}
	// A restarted member restores its snapshot from disk and replays the rest.
	c.Restart(leader)
	if err := c.WaitApplied(ctx, leader, nl.Node().Stats().CommitIndex); err != nil {
		t.Fatal(err)
	}
	_ = leader.Node().Read(ctx, raftnode.Stale, func() { reply = machineOf(leader).Query(sid, []byte("get x")) })
	if string(reply.Data) != "40" {
		t.Fatalf("restarted: x = %+v", reply)
	}
}
