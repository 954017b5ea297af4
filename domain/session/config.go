package session

import (
	"errors"
	"fmt"
)

// Durations in this package are int64 milliseconds of log time (the leader's stamps are
// milliseconds since the Unix epoch, as on the wire), because the domain reads no clock
// and imports no time package.

// Default configuration values, used by Config.WithDefaults for zero fields.
const (
	DefaultSessionTimeout     int64 = 30_000
	DefaultLeaderGrace        int64 = 10_000
	DefaultMaxCachedResponses       = 1024
	DefaultMaxPendingRequests       = 1024
	DefaultRedeliveryBase     int64 = 1_000
	DefaultRedeliveryMax      int64 = 30_000
)

// ErrInvalidConfig is wrapped by Config.Validate for every rejected field.
var ErrInvalidConfig = errors.New("session: invalid config")

// Config holds the replicated state machine's parameters. Every member must use the same
// values: they decide expiry and redelivery, so different values make replicas diverge.
type Config struct {
	// SessionTimeout is how long, in log-time milliseconds, a session lives after its
	// last activity. Default 30 s.
	SessionTimeout int64
	// LeaderGrace is the grace period, in log-time milliseconds counted from a new
	// leader's first entry, during which no session expires. Default 10 s.
	LeaderGrace int64
	// MaxCachedResponses bounds each session's response cache; past it the lowest
	// request ids are evicted and their retries get ResponseEvicted. Default 1024.
	MaxCachedResponses int
	// MaxPendingRequests bounds each session's unacknowledged server requests; past it
	// Env.Send returns ErrQueueFull. Default 1024.
	MaxPendingRequests int
	// RedeliveryBase is the delay, in log-time milliseconds, before an unacknowledged
	// server request is due again; it doubles on each redelivery. Default 1 s.
	RedeliveryBase int64
	// RedeliveryMax caps the doubled redelivery delay. Default 30 s.
	RedeliveryMax int64
}

// WithDefaults returns c with every zero field set to its default.
func (c Config) WithDefaults() Config {
	if c.SessionTimeout == 0 {
		c.SessionTimeout = DefaultSessionTimeout
	}
	if c.LeaderGrace == 0 {
		c.LeaderGrace = DefaultLeaderGrace
	}
	if c.MaxCachedResponses == 0 {
		c.MaxCachedResponses = DefaultMaxCachedResponses
	}
	if c.MaxPendingRequests == 0 {
		c.MaxPendingRequests = DefaultMaxPendingRequests
	}
	if c.RedeliveryBase == 0 {
		c.RedeliveryBase = DefaultRedeliveryBase
	}
	if c.RedeliveryMax == 0 {
		c.RedeliveryMax = DefaultRedeliveryMax
	}
	return c
}

// Validate reports the first invalid field, wrapping ErrInvalidConfig.
func (c Config) Validate() error {
	switch {
	case c.SessionTimeout <= 0:
		return fmt.Errorf("%w: SessionTimeout %d must be positive", ErrInvalidConfig, c.SessionTimeout)
	case c.LeaderGrace < 0:
		return fmt.Errorf("%w: LeaderGrace %d must not be negative", ErrInvalidConfig, c.LeaderGrace)
	case c.MaxCachedResponses <= 0:
		return fmt.Errorf("%w: MaxCachedResponses %d must be positive", ErrInvalidConfig, c.MaxCachedResponses)
	case c.MaxPendingRequests <= 0:
		return fmt.Errorf("%w: MaxPendingRequests %d must be positive", ErrInvalidConfig, c.MaxPendingRequests)
	case c.RedeliveryBase <= 0:
		return fmt.Errorf("%w: RedeliveryBase %d must be positive", ErrInvalidConfig, c.RedeliveryBase)
	case c.RedeliveryMax < c.RedeliveryBase:
		return fmt.Errorf("%w: RedeliveryMax %d must be at least RedeliveryBase %d", ErrInvalidConfig, c.RedeliveryMax, c.RedeliveryBase)
	}
	return nil
}
