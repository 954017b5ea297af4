package server

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/zraft/zraft/domain/gateway"
)

func TestParseMembers(t *testing.T) {
	got, err := ParseMembers(" a=127.0.0.1:1|tcp://127.0.0.1:2, b=h:3 ,")
	if err != nil {
		t.Fatal(err)
	}
	want := []Member{{"a", "127.0.0.1:1", "tcp://127.0.0.1:2"}, {"b", "h:3", ""}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for _, bad := range []string{"", ",", "a", "=h:1", "a=", "a=h", "a=h:1|127.0.0.1:2", "a=h:1|tcp://x"} {
		if _, err := ParseMembers(bad); !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("ParseMembers(%q): %v, want ErrInvalidConfig", bad, err)
		}
	}
}

// FuzzParseMembers: operator input never panics, and what parses formats back to a
// list that parses to the same members.
func FuzzParseMembers(f *testing.F) {
	f.Add("node-1=127.0.0.1:7101|tcp://127.0.0.1:7001,node-2=127.0.0.1:7102|tcp://127.0.0.1:7002")
	f.Add("a=[::1]:1")
	f.Add("a=h:1|tcp://h:2,,b=h:3|")
	f.Fuzz(func(t *testing.T, s string) {
		ms, err := ParseMembers(s)
		if err != nil {
			return
		}
		var parts []string
		for _, m := range ms {
			if strings.ContainsAny(m.ID+m.RaftAddr+m.ClientEndpoint, ",") {
				t.Fatalf("member %+v holds a separator", m)
			}
			p := m.ID + "=" + m.RaftAddr
			if m.ClientEndpoint != "" {
				p += "|" + m.ClientEndpoint
			}
			parts = append(parts, p)
		}
		again, err := ParseMembers(strings.Join(parts, ","))
		if err != nil || fmt.Sprint(again) != fmt.Sprint(ms) {
			t.Fatalf("%q parsed to %v, re-parsed to %v, %v", s, ms, again, err)
		}
	})
}

func TestConfigDefaultsAreValidAndBadOnesRefused(t *testing.T) {
	def := (Config{}).WithDefaults()
	if err := def.Validate(); err != nil {
		t.Fatal(err)
	}
	if def.SnapshotThreshold != 8192 || def.SnapshotInterval != 30*time.Second {
		t.Errorf("snapshot defaults %d, %v; want raftnode's 8192, 30s", def.SnapshotThreshold, def.SnapshotInterval)
	}
	for name, mut := range map[string]func(*Config){
		"id with comma":         func(c *Config) { c.MemberID = "a,b" },
		"client without tcp":    func(c *Config) { c.ClientAddr = "127.0.0.1:1" },
		"raft without port":     func(c *Config) { c.RaftAddr = "127.0.0.1" },
		"flush above timeout":   func(c *Config) { c.FlushInterval = time.Minute },
		"redelivery max < base": func(c *Config) { c.RedeliveryMax = time.Millisecond },
		"negative limit":        func(c *Config) { c.MaxInFlight = -1 },
		"bootstrap without me":  func(c *Config) { c.Bootstrap = []Member{{ID: "x", RaftAddr: "h:1"}} },
		"bootstrap and join":    func(c *Config) { c.Bootstrap, c.Join = []Member{{ID: "node-1", RaftAddr: "h:1"}}, []string{"h:2"} },
		"snapshot interval 1ms": func(c *Config) { c.SnapshotInterval = time.Millisecond },
	} {
		c := Config{}.WithDefaults()
		mut(&c)
		if err := c.Validate(); !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("%s: %v, want ErrInvalidConfig", name, err)
		}
	}
}

// The inbox makes the state machine wait when the loop is max entries behind, keeps
// order, and lets everyone go once closed.
func TestInboxBoundsAppliedEntries(t *testing.T) {
	checkLeaks(t)
	b := newInbox(2)
	b.pushApplied(gateway.Applied{})
	b.push(gateway.ReadFailed{ID: 1}) // other inputs never wait
	b.pushApplied(gateway.Applied{})
	third := make(chan struct{})
	go func() {
		b.pushApplied(gateway.Applied{})
		close(third)
	}()
	select {
	case <-third:
		t.Fatal("a third applied entry was queued past the bound")
	case <-time.After(100 * time.Millisecond):
	}
	got := b.take(nil)
	if len(got) != 3 {
		t.Fatalf("took %d inputs, want 3", len(got))
	}
	if _, ok := got[1].(gateway.ReadFailed); !ok {
		t.Fatalf("order lost: %#v", got)
	}
	<-third // room again: one queued now
	b.pushApplied(gateway.Applied{})
	waiting := make(chan struct{})
	go func() {
		b.pushApplied(gateway.Applied{}) // waits: two queued
		close(waiting)
	}()
	time.Sleep(20 * time.Millisecond)
	b.close() // releases the waiter, discards the rest
	<-waiting
	b.push(gateway.ReadFailed{})
	if got := b.take(nil); len(got) != 0 {
		t.Fatalf("after close: %d inputs", len(got))
	}
}
