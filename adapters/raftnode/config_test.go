package raftnode

import (
	"errors"
	"io"
	"testing"
	"time"
)

func validConfig() Config {
	return Config{MemberID: "m1", BindAddr: "127.0.0.1:0", Stores: func(string) (Stores, error) { return Stores{}, nil }}.WithDefaults()
}

func TestConfigDefaultsAreValid(t *testing.T) {
	c := validConfig()
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if c.HeartbeatTimeout != time.Second || c.ReadLeaseTimeout != 500*time.Millisecond || c.MaxAppendEntries != 256 || c.ProposalQueue != 4096 {
		t.Fatalf("defaults: %+v", c)
	}
}

func TestConfigValidateRejects(t *testing.T) {
	for name, mutate := range map[string]func(*Config){
		"no id":              func(c *Config) { c.MemberID = "" },
		"no bind":            func(c *Config) { c.BindAddr = "" },
		"bad bind":           func(c *Config) { c.BindAddr = "nohostport" },
		"no stores":          func(c *Config) { c.Stores = nil },
		"election < hb":      func(c *Config) { c.ElectionTimeout = c.HeartbeatTimeout / 2 },
		"leader lease > hb":  func(c *Config) { c.LeaderLeaseTimeout = 2 * c.HeartbeatTimeout },
		"read lease >= hb":   func(c *Config) { c.ReadLeaseTimeout = c.HeartbeatTimeout },
		"tiny heartbeat":     func(c *Config) { c.HeartbeatTimeout = time.Millisecond },
		"max append > 1024":  func(c *Config) { c.MaxAppendEntries = 2000 },
		"negative batch":     func(c *Config) { c.ProposalBatch = -1 },
		"advertise wildcard": func(c *Config) { c.AdvertiseAddr = "0.0.0.0:7000" },
		"advertise port 0":   func(c *Config) { c.AdvertiseAddr = "10.0.0.1:0" },
	} {
		c := validConfig()
		mutate(&c)
		if err := c.Validate(); !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestNewRejectsUnadvertisableBind(t *testing.T) {
	c := validConfig()
	if _, err := New(c, nil); !errors.Is(err, ErrInvalidConfig) {
		t.Fatalf("nil state machine: %v", err)
	}
	c.BindAddr = "0.0.0.0:0" // valid to bind, but nobody can dial it
	if _, err := New(c, nopSM{}); !errors.Is(err, ErrInvalidConfig) {
		t.Fatalf("wildcard bind without advertise: %v", err)
	}
}

type nopSM struct{}

func (nopSM) Apply(uint64, uint64, []byte) any { return nil }
func (nopSM) Snapshot() (Snapshot, error)      { return nil, errors.New("none") }
func (nopSM) Restore(io.Reader) error          { return nil }
