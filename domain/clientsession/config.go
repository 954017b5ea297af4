package clientsession

import (
	"fmt"

	"github.com/zraft/zraft/protocol"
)

// Config configures an Engine. Durations are in milliseconds; a zero field takes the
// default named in its comment.
type Config struct {
	// Members is the cluster, in the order the engine tries them. At least one, with
	// unique non-empty ids and non-empty endpoints.
	Members []protocol.Member
	// Capabilities go into CreateSession. With Extensions off it must hold at least one
	// entry (the protocol requires one).
	Capabilities protocol.Capabilities
	// Extensions declares zraft's extension blocks (protocol.ExtensionCapabilityKey) in
	// CreateSession. Blocks are sent only once the server confirmed them.
	Extensions bool

	// KeepAliveInterval is how often a connected engine sends KeepAlive. Default 1000.
	KeepAliveInterval int64
	// KeepAliveTimeout: a connection on which nothing arrived for this long is dead.
	// Must exceed KeepAliveInterval. Default 3*KeepAliveInterval.
	KeepAliveTimeout int64
	// ConnectTimeout bounds each step of an attempt: from Connect to ConnectionUp, and
	// from there to the session answer. Default 5000.
	ConnectTimeout int64
	// ResendInterval: a pending command or query not answered this long after it was
	// sent is sent again on the same connection (the server's response cache makes it
	// harmless). Negative disables it; everything pending is re-sent on every
	// reconnection regardless. Default 5000.
	ResendInterval int64
	// BackoffBase and BackoffMax bound the pause after a round in which every member
	// failed: base doubled per round, capped at max, with jitter in [d/2, d].
	// Defaults 100 and 5000.
	BackoffBase, BackoffMax int64

	// MaxPending bounds the commands (cancelled ones included until answered) and
	// queries waiting for an answer; past it a call gets ErrTooManyPending. Default 4096.
	MaxPending int
	// MaxHeldServerRequests bounds the server requests held back until a gap before
	// them fills. Past it they are dropped: the server redelivers every unacknowledged
	// request, so nothing is lost. Default 64.
	MaxHeldServerRequests int
	// MaxMembers bounds the member list when servers add members through the extension.
	// Default 64 (or len(Members) when larger).
	MaxMembers int
	// MaxMessageSize is the largest server message the engine decodes, in bytes; the
	// shell's transport should use the same limit. A larger answer fails its call with
	// ErrResultTooLarge instead of breaking the connection (see ReceivedTooLarge).
	// Default protocol.DefaultMaxMessageSize.
	MaxMessageSize int
	// Seed seeds the jitter generator; zero is replaced by a fixed non-zero constant.
	Seed uint64
}

// maxDuration (about 35 years) keeps now + duration far from overflowing.
const maxDuration = 1 << 40

func (c Config) withDefaults() Config {
	def := func(v *int64, d int64) {
		if *v == 0 {
			*v = d
		}
	}
	def(&c.KeepAliveInterval, 1000)
	def(&c.KeepAliveTimeout, 3*c.KeepAliveInterval)
	def(&c.ConnectTimeout, 5000)
	def(&c.ResendInterval, 5000)
	def(&c.BackoffBase, 100)
	def(&c.BackoffMax, 5000)
	if c.MaxPending == 0 {
		c.MaxPending = 4096
	}
	if c.MaxHeldServerRequests == 0 {
		c.MaxHeldServerRequests = 64
	}
	if c.MaxMembers == 0 {
		c.MaxMembers = max(64, len(c.Members))
	}
	if c.MaxMessageSize == 0 {
		c.MaxMessageSize = protocol.DefaultMaxMessageSize
	}
	if c.Seed == 0 {
		c.Seed = 0x9e3779b97f4a7c15
	}
	return c
}

// Validate reports the first problem of c (after defaults), wrapped in ErrInvalidConfig.
func (c Config) Validate() error {
	c = c.withDefaults()
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: "+format, append([]any{ErrInvalidConfig}, args...)...)
	}
	if len(c.Members) == 0 {
		return bad("no members")
	}
	if len(c.Members) > c.MaxMembers {
		return bad("%d members, more than MaxMembers %d", len(c.Members), c.MaxMembers)
	}
	seen := make(map[protocol.MemberID]bool, len(c.Members))
	for _, m := range c.Members {
		if m.ID == "" || m.Endpoint == "" {
			return bad("member %q: empty id or endpoint", m.ID)
		}
		if seen[m.ID] {
			return bad("member %q listed twice", m.ID)
		}
		seen[m.ID] = true
	}
	if len(c.Capabilities) == 0 && !c.Extensions {
		return bad("no capabilities (CreateSession needs at least one)")
	}
	if _, ok := c.Capabilities.Get(protocol.ExtensionCapabilityKey); ok {
		return bad("capability %q is reserved (use Extensions)", protocol.ExtensionCapabilityKey)
	}
	probe := &protocol.CreateSession{Capabilities: c.createCaps(), Nonce: 1}
	if _, err := protocol.AppendClientMessage(nil, probe); err != nil {
		return bad("capabilities: %v", err)
	}
	for _, d := range []int64{c.KeepAliveInterval, c.KeepAliveTimeout, c.ConnectTimeout, c.ResendInterval, c.BackoffBase, c.BackoffMax} {
		if d > maxDuration {
			return bad("duration %d ms above the limit %d", d, int64(maxDuration))
		}
	}
	switch {
	case c.KeepAliveInterval < 0, c.ConnectTimeout < 0, c.BackoffBase < 0, c.BackoffMax < 0:
		return bad("negative duration")
	case c.KeepAliveTimeout <= c.KeepAliveInterval:
		return bad("KeepAliveTimeout %d must exceed KeepAliveInterval %d", c.KeepAliveTimeout, c.KeepAliveInterval)
	case c.BackoffMax < c.BackoffBase:
		return bad("BackoffMax %d below BackoffBase %d", c.BackoffMax, c.BackoffBase)
	case c.MaxPending < 0, c.MaxHeldServerRequests < 0, c.MaxMessageSize < 0:
		return bad("negative bound")
	}
	return nil
}

func (c Config) createCaps() protocol.Capabilities {
	if c.Extensions {
		return protocol.WithExtensionCapability(c.Capabilities)
	}
	return c.Capabilities
}
