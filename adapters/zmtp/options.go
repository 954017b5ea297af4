package zmtp

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/zraft/zraft/protocol"
)

// Defaults of the options. The heartbeat defaults match zio-raft's clients.
const (
	// DefaultMaxMessageSize is the protocol decoders' default, so that whatever the
	// transport accepts, the session layer can decode.
	DefaultMaxMessageSize   = protocol.DefaultMaxMessageSize
	DefaultSendQueue        = 1024
	DefaultRecvQueue        = 4096
	DefaultHandshakeTimeout = 5 * time.Second
	DefaultHeartbeatIvl     = 1 * time.Second
	DefaultHeartbeatTimeout = 10 * time.Second
	DefaultHeartbeatTTL     = 30 * time.Second
	DefaultDialTimeout      = 5 * time.Second
	DefaultBackoffMin       = 50 * time.Millisecond
	DefaultBackoffMax       = 5 * time.Second
	DefaultMaxConnections   = 10_000
)

// ErrConfig: an option has an invalid value.
var ErrConfig = errors.New("zmtp: invalid configuration")

type config struct {
	maxMsg           int
	sendQueue        int
	recvQueue        int
	handshakeTimeout time.Duration
	hbInterval       time.Duration
	hbTimeout        time.Duration
	hbTTL            time.Duration
	dialTimeout      time.Duration
	backoffMin       time.Duration
	backoffMax       time.Duration
	maxConns         int
	skipPrefix       int
	poller           bool
	logger           *slog.Logger
}

func newConfig(opts []Option) (*config, error) {
	c := &config{
		maxMsg:           DefaultMaxMessageSize,
		sendQueue:        DefaultSendQueue,
		recvQueue:        DefaultRecvQueue,
		handshakeTimeout: DefaultHandshakeTimeout,
		hbInterval:       DefaultHeartbeatIvl,
		hbTimeout:        DefaultHeartbeatTimeout,
		hbTTL:            DefaultHeartbeatTTL,
		dialTimeout:      DefaultDialTimeout,
		backoffMin:       DefaultBackoffMin,
		backoffMax:       DefaultBackoffMax,
		maxConns:         DefaultMaxConnections,
		poller:           true,
	}
	for _, o := range opts {
		o(c)
	}
	if c.logger == nil {
		c.logger = slog.New(slog.DiscardHandler)
	}
	return c, c.validate()
}

func (c *config) validate() error {
	switch {
	case c.maxMsg <= 0:
		return fmt.Errorf("%w: max message size %d", ErrConfig, c.maxMsg)
	case c.skipPrefix < 0 || c.skipPrefix > c.maxMsg:
		return fmt.Errorf("%w: skip prefix %d (0..max message size)", ErrConfig, c.skipPrefix)
	case c.maxConns < 0:
		return fmt.Errorf("%w: max connections %d", ErrConfig, c.maxConns)
	case c.sendQueue <= 0 || c.recvQueue <= 0:
		return fmt.Errorf("%w: queue sizes %d/%d", ErrConfig, c.sendQueue, c.recvQueue)
	case c.handshakeTimeout <= 0 || c.dialTimeout <= 0:
		return fmt.Errorf("%w: handshake/dial timeout must be positive", ErrConfig)
	case c.hbInterval < 0 || c.hbTimeout < 0 || c.hbTTL < 0:
		return fmt.Errorf("%w: negative heartbeat setting", ErrConfig)
	case c.hbTTL > 6553500*time.Millisecond:
		return fmt.Errorf("%w: heartbeat TTL %v exceeds 6553.5 s", ErrConfig, c.hbTTL)
	case c.hbTimeout > 0 && c.hbInterval > 0 && c.hbTimeout <= c.hbInterval:
		return fmt.Errorf("%w: heartbeat timeout %v not above interval %v", ErrConfig, c.hbTimeout, c.hbInterval)
	case c.backoffMin <= 0 || c.backoffMax < c.backoffMin:
		return fmt.Errorf("%w: backoff %v..%v", ErrConfig, c.backoffMin, c.backoffMax)
	}
	return nil
}

// Option configures a Server or a Client.
type Option func(*config)

// WithMaxMessageSize sets the largest message accepted or sent, in bytes (default 4 MiB,
// protocol.DefaultMaxMessageSize). A peer that sends a larger frame is disconnected
// before its body is read (a Client may skip it instead: WithSkipTooLarge).
func WithMaxMessageSize(n int) Option { return func(c *config) { c.maxMsg = n } }

// WithSendQueue sets the per-connection send queue length, in messages (default 1024).
// It is a bound: the queue's storage grows on demand and is released when drained.
// On a Server, a connection whose queue overflows is disconnected; a Client's Send waits.
func WithSendQueue(n int) Option { return func(c *config) { c.sendQueue = n } }

// WithRecvQueue sets the length of the queue that Recv reads (default 4096 events).
// When it is full, connections stop being read (backpressure) until Recv catches up.
func WithRecvQueue(n int) Option { return func(c *config) { c.recvQueue = n } }

// WithHandshakeTimeout bounds the greeting and READY exchange of a new connection
// (default 5 s).
func WithHandshakeTimeout(d time.Duration) Option {
	return func(c *config) { c.handshakeTimeout = d }
}

// WithHeartbeat sets ZMTP heartbeats: a PING every interval, the connection is dead
// when nothing at all arrived within timeout, and ttl is announced in our PINGs so
// that the peer can time us out. Zero disables the respective part.
// Defaults: 1 s, 10 s, 30 s.
func WithHeartbeat(interval, timeout, ttl time.Duration) Option {
	return func(c *config) { c.hbInterval, c.hbTimeout, c.hbTTL = interval, timeout, ttl }
}

// WithDialTimeout bounds a Client's TCP connect (default 5 s).
func WithDialTimeout(d time.Duration) Option { return func(c *config) { c.dialTimeout = d } }

// WithReconnectBackoff sets a Client's reconnect backoff: it starts at min, doubles
// on every failed attempt up to max, and each wait is jittered to [d/2, d).
// Defaults: 50 ms, 5 s.
func WithReconnectBackoff(min, max time.Duration) Option {
	return func(c *config) { c.backoffMin, c.backoffMax = min, max }
}

// WithSkipTooLarge makes a Client read past a message from its server that exceeds the
// maximum message size instead of dropping the connection: it keeps the first prefix
// bytes (at most the maximum message size) and reports them in an EventTooLarge, so the
// caller can fail whatever the message answered rather than reconnect and receive it
// again. The bytes skipped are never held in memory; the heartbeat timeout still bounds
// how long the frame may take. Default 0: disconnect (ErrTooLarge). A Server always
// disconnects such a peer.
func WithSkipTooLarge(prefix int) Option { return func(c *config) { c.skipPrefix = prefix } }

// WithMaxConnections bounds a Server's connections, handshaking ones included
// (default 10,000; 0 means no bound). Connections beyond it are closed at once.
func WithMaxConnections(n int) Option { return func(c *config) { c.maxConns = n } }

// WithPoller chooses how a Server waits for its established connections' next bytes
// (default true). With the poller, on Linux, an idle connection holds no goroutine and
// no read buffer: it waits in the Server's own epoll set, and a goroutine reads it only
// while its peer sends (docs/transport.md). With false, or on other systems, each
// connection keeps a goroutine blocked in a read. A Client ignores it.
func WithPoller(on bool) Option { return func(c *config) { c.poller = on } }

// WithLogger sets the logger (default: discard).
func WithLogger(l *slog.Logger) Option { return func(c *config) { c.logger = l } }

// parseEndpoint turns tcp://host:port into host:port. "*" as host means all interfaces.
func parseEndpoint(endpoint string, allowPortZero bool) (string, error) {
	rest, ok := strings.CutPrefix(endpoint, "tcp://")
	if !ok {
		return "", fmt.Errorf("%w: %q: only tcp:// is supported", ErrEndpoint, endpoint)
	}
	host, port, err := net.SplitHostPort(rest)
	if err != nil {
		return "", fmt.Errorf("%w: %q: %v", ErrEndpoint, endpoint, err)
	}
	p, err := strconv.ParseUint(port, 10, 16)
	if err != nil || (p == 0 && !allowPortZero) {
		return "", fmt.Errorf("%w: %q: bad port", ErrEndpoint, endpoint)
	}
	if host == "*" {
		host = ""
	}
	if host == "" && !allowPortZero {
		return "", fmt.Errorf("%w: %q: no host", ErrEndpoint, endpoint)
	}
	return net.JoinHostPort(host, port), nil
}
