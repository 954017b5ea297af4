package session_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/zraft/zraft/domain/session"
)

// TestDeterminism feeds the same log, as encoded entries, to several machines (one of
// them restored from a snapshot halfway) and checks that their snapshots are identical
// bytes at every checkpoint. Go randomises map iteration per map and per run, so any
// output that depended on map order would differ between the machines.
func TestDeterminism(t *testing.T) {
	cfg := session.Config{SessionTimeout: 1500, LeaderGrace: 400, MaxCachedResponses: 4, MaxPendingRequests: 4, RedeliveryBase: 30, RedeliveryMax: 200}
	gen := newStreamGen(42, 12)
	var log [][]byte
	for range 3000 {
		entry, err := session.EncodeCommand(nil, gen.next())
		if err != nil {
			t.Fatal(err)
		}
		log = append(log, entry)
	}
	machines := make([]*session.Machine, 4)
	for i := range machines {
		machines[i] = session.New(cfg, newCounterApp())
	}
	peak := 0
	for i, entry := range log {
		for j, m := range machines {
			res, err := m.ApplyEntry(uint64(i+1), entry)
			if err != nil {
				t.Fatal(err)
			}
			if j == 0 {
				gen.observe(res)
			}
		}
		if i == len(log)/2 {
			r := session.New(cfg, newCounterApp())
			if err := r.Restore(machines[3].AppendSnapshot(nil)); err != nil {
				t.Fatal(err)
			}
			machines[3] = r
		}
		if i%500 == 499 || i == len(log)-1 {
			snap := machines[0].AppendSnapshot(nil)
			for j, m := range machines[1:] {
				if !bytes.Equal(snap, m.AppendSnapshot(nil)) {
					t.Fatalf("entry %d: machine %d's snapshot differs", i, j+1)
				}
			}
		}
		peak = max(peak, machines[0].Len())
	}
	if peak < 5 {
		t.Fatalf("at most %d live sessions: the log exercises too little", peak)
	}
}

func TestApplyMisuse(t *testing.T) {
	m := session.New(session.Config{}, newCounterApp())
	if _, err := m.Apply(0, session.Redelivery{At: 1}); !errors.Is(err, session.ErrIndexOrder) {
		t.Fatalf("index 0: %v", err)
	}
	if _, err := m.Apply(5, session.CreateSession{At: 1, ID: "a"}); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Apply(5, session.Redelivery{At: 1}); !errors.Is(err, session.ErrIndexOrder) {
		t.Fatalf("repeated index: %v", err)
	}
	if _, err := m.Apply(6, session.Batch{Commands: []session.Command{session.Batch{}}}); !errors.Is(err, session.ErrInvalidCommand) {
		t.Fatalf("nested batch: %v", err)
	}
	if _, err := m.Apply(6, &session.Touch{At: 1}); !errors.Is(err, session.ErrInvalidCommand) {
		t.Fatalf("pointer command: %v", err)
	}
	if _, err := m.Apply(6, nil); !errors.Is(err, session.ErrInvalidCommand) {
		t.Fatalf("nil: %v", err)
	}
	if _, err := m.ApplyEntry(6, []byte{1, 99}); !errors.Is(err, session.ErrMalformed) {
		t.Fatalf("malformed entry: %v", err)
	}
	if m.LastIndex() != 5 || m.Len() != 1 {
		t.Fatalf("misuse changed the state: index %d, %d sessions", m.LastIndex(), m.Len())
	}
}

func TestConfig(t *testing.T) {
	if err := (session.Config{}).WithDefaults().Validate(); err != nil {
		t.Fatalf("defaults: %v", err)
	}
	for name, c := range map[string]session.Config{
		"timeout":  {SessionTimeout: -1},
		"grace":    {LeaderGrace: -1},
		"cache":    {MaxCachedResponses: -1},
		"pending":  {MaxPendingRequests: -1},
		"base":     {RedeliveryBase: -1},
		"max<base": {RedeliveryBase: 100, RedeliveryMax: 50},
	} {
		if err := c.WithDefaults().Validate(); !errors.Is(err, session.ErrInvalidConfig) {
			t.Errorf("%s: %v, want ErrInvalidConfig", name, err)
		}
	}
}

func TestRestoreRejectsCorruption(t *testing.T) {
	cfg := session.Config{}
	m := session.New(cfg, newCounterApp())
	for i, c := range sampleCommands() {
		if _, err := m.Apply(uint64(i+1), c); err != nil {
			t.Fatal(err)
		}
	}
	snap := m.AppendSnapshot(nil)
	target := session.New(cfg, newCounterApp())
	if _, err := target.Apply(1, session.CreateSession{At: 1, ID: "keep"}); err != nil {
		t.Fatal(err)
	}
	for i := range snap {
		bad := bytes.Clone(snap)
		bad[i] ^= 0x10
		if err := target.Restore(bad); !errors.Is(err, session.ErrMalformed) {
			t.Fatalf("flipped byte %d: %v", i, err)
		}
	}
	for n := range len(snap) {
		if err := target.Restore(snap[:n]); err == nil {
			t.Fatalf("truncated to %d bytes: accepted", n)
		}
	}
	if _, ok := target.Session("keep"); !ok || target.Len() != 1 {
		t.Fatal("a failed restore changed the machine")
	}
	if err := target.Restore(snap); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(snap, target.AppendSnapshot(nil)) {
		t.Fatal("restored snapshot differs")
	}
}
