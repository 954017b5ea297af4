package server

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"time"

	"github.com/zraft/zraft/adapters/zmtp"
	"github.com/zraft/zraft/domain/session"
)

// Sentinel errors; test with errors.Is.
var (
	// ErrInvalidConfig is wrapped by Config.Validate and ParseMembers for every problem.
	ErrInvalidConfig = errors.New("server: invalid config")
	// ErrClosed: the server was shut down (or Run already ended).
	ErrClosed = errors.New("server: closed")
	// ErrNotLeader: a membership change reached a member that does not lead.
	ErrNotLeader = errors.New("server: not the leader")
)

// Defaults of zraftd and of zero Config fields.
const (
	DefaultMemberID     = "node-1"
	DefaultClientAddr   = "tcp://127.0.0.1:7001"
	DefaultRaftAddr     = "127.0.0.1:7101"
	DefaultAdminAddr    = "127.0.0.1:7201"
	DefaultDataDir      = "zraft-data"
	DefaultCloseLinger  = time.Second
	DefaultShutdownWait = 10 * time.Second
	// DefaultClientHeartbeat is Config.ClientHeartbeat's default.
	DefaultClientHeartbeat = 5 * time.Second
	// DefaultSnapshotThreshold is Config.SnapshotThreshold's default (raftnode's).
	DefaultSnapshotThreshold = 8192
	// DefaultSnapshotInterval is Config.SnapshotInterval's default (raftnode's).
	DefaultSnapshotInterval = 30 * time.Second
)

// Member is one founding member of a cluster: its id, the host:port its Raft transport
// listens on and the endpoint its clients connect to.
type Member struct {
	ID             string `json:"id"`
	RaftAddr       string `json:"raft_addr"`
	ClientEndpoint string `json:"client_endpoint"`
}

// Config configures one cluster member. Zero durations and limits take the defaults
// documented on each field.
type Config struct {
	// MemberID is the member's stable id. Default "node-1".
	MemberID string
	// ClientAddr is the zmtp endpoint clients connect to (tcp://host:port; port 0 picks
	// one). Default tcp://127.0.0.1:7001.
	ClientAddr string
	// AdvertiseClient is the endpoint other members name to clients; default the bound
	// client endpoint.
	AdvertiseClient string
	// RaftAddr is the host:port of the Raft transport (port 0 picks one). Default
	// 127.0.0.1:7101.
	RaftAddr string
	// AdminAddr is the host:port of the HTTP admin listener; "off" disables it.
	// Default 127.0.0.1:7201.
	AdminAddr string
	// DataDir holds the member's durable state. Default ./zraft-data.
	DataDir string
	// Pprof serves Go's profiler (net/http/pprof) under /debug/pprof/ on the admin
	// listener, for operators investigating CPU or memory. Off by default: profiles
	// expose internals and a CPU profile costs CPU while it runs.
	Pprof bool
	// Bootstrap lists the founding members of a new cluster (this member must be one).
	// Empty and no Join: a single-member cluster of this member. Ignored when the data
	// dir already holds a cluster.
	Bootstrap []Member
	// Join lists admin addresses (host:port or http://host:port) of existing members;
	// the member asks them, in turn, to add it until the leader does.
	Join []string

	// SessionTimeout: a session without activity for this long expires. Default 30 s.
	SessionTimeout time.Duration
	// LeaderGrace: no session expires until this long after a new leader started.
	// Default 10 s.
	LeaderGrace time.Duration
	// RedeliveryInterval: how often unacknowledged server requests are considered for
	// redelivery (and expiry decided on an idle cluster). Default 1 s.
	RedeliveryInterval time.Duration
	// RedeliveryBase and RedeliveryMax: the first redelivery delay, doubled per attempt
	// up to the maximum. Default 1 s and 30 s.
	RedeliveryBase, RedeliveryMax time.Duration
	// FlushInterval: how often session activity and acknowledgements are proposed as one
	// entry. Default 1 s (keep it well below SessionTimeout).
	FlushInterval time.Duration
	// MaxInFlight bounds the requests and queries per session waiting for the log or a
	// read. Default 1024.
	MaxInFlight int
	// MaxCachedResponses and MaxPendingRequests bound the response cache and the
	// unacknowledged server requests per session. Default 1024 each.
	MaxCachedResponses, MaxPendingRequests int
	// MaxConnections bounds the client connections. Default 10,000.
	MaxConnections int
	// MaxMessageSize bounds a client message in bytes. Default 8 MiB.
	MaxMessageSize int
	// ClientHeartbeat is how often the member sends a ZMTP PING on each client
	// connection whose peer speaks ZMTP 3.1; the peer's PONG (or anything else it sends)
	// keeps the connection from being dropped as dead after the transport's heartbeat
	// timeout (zmtp.DefaultHeartbeatTimeout, 10 s), and the PING's TTL (30 s) tells the
	// peer how long the member may stay silent. Sessions send keep-alives anyway, so
	// the PINGs only matter for silent peers: every PING is a socket write per
	// connection, and at 1 s they were half of an idle leader's writes. Default 5 s;
	// must be below the heartbeat timeout.
	ClientHeartbeat time.Duration
	// DisableClientPoller serves every client connection with a reader goroutine of its
	// own (about 5 KB more per connection) instead of the transport's epoll set, which
	// holds idle connections without a goroutine (zmtp.WithPoller; Linux only). Worth it
	// only for a member whose clients are all busy: there the poller costs some CPU per
	// message (docs/transport.md). Default false: the poller.
	DisableClientPoller bool
	// CloseLinger bounds how long a connection the gateway closes may stay open so that
	// the messages sent to it just before (a rejection, a redirect) are flushed and the
	// peer closes first; also the final flush of a graceful shutdown. Default 1 s.
	CloseLinger time.Duration
	// ShutdownTimeout bounds a graceful shutdown (leadership transfer, flush). Default 10 s.
	ShutdownTimeout time.Duration

	// SnapshotThreshold is how many new log entries make the member write a snapshot
	// of the replicated state (and then compact its log). Default 8192.
	SnapshotThreshold uint64
	// SnapshotInterval is how often the threshold is checked (Raft waits between one and
	// two intervals). Default 30 s; at least 5 ms.
	SnapshotInterval time.Duration
}

// WithDefaults returns c with every zero field set to its default.
func (c Config) WithDefaults() Config {
	str := func(s *string, v string) {
		if *s == "" {
			*s = v
		}
	}
	dur := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	num := func(n *int, v int) {
		if *n == 0 {
			*n = v
		}
	}
	str(&c.MemberID, DefaultMemberID)
	str(&c.ClientAddr, DefaultClientAddr)
	str(&c.RaftAddr, DefaultRaftAddr)
	str(&c.AdminAddr, DefaultAdminAddr)
	str(&c.DataDir, DefaultDataDir)
	dur(&c.SessionTimeout, 30*time.Second)
	dur(&c.LeaderGrace, 10*time.Second)
	dur(&c.RedeliveryInterval, time.Second)
	dur(&c.RedeliveryBase, time.Second)
	dur(&c.RedeliveryMax, 30*time.Second)
	dur(&c.FlushInterval, time.Second)
	dur(&c.ClientHeartbeat, DefaultClientHeartbeat)
	dur(&c.CloseLinger, DefaultCloseLinger)
	dur(&c.ShutdownTimeout, DefaultShutdownWait)
	dur(&c.SnapshotInterval, DefaultSnapshotInterval)
	if c.SnapshotThreshold == 0 {
		c.SnapshotThreshold = DefaultSnapshotThreshold
	}
	num(&c.MaxInFlight, 1024)
	num(&c.MaxCachedResponses, 1024)
	num(&c.MaxPendingRequests, 1024)
	num(&c.MaxConnections, 10_000)
	num(&c.MaxMessageSize, 8<<20)
	return c
}

// Validate reports the first problem of a configuration WithDefaults was applied to.
func (c Config) Validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrInvalidConfig, fmt.Sprintf(format, args...))
	}
	if strings.ContainsAny(c.MemberID, "=|, \t\n") {
		return bad("member id %q must not contain '=', '|', ',' or spaces", c.MemberID)
	}
	if err := checkEndpoint(c.ClientAddr); err != nil {
		return bad("client address %q: %v", c.ClientAddr, err)
	}
	if c.AdvertiseClient != "" {
		if err := checkEndpoint(c.AdvertiseClient); err != nil {
			return bad("advertised client endpoint %q: %v", c.AdvertiseClient, err)
		}
	}
	if _, _, err := net.SplitHostPort(c.RaftAddr); err != nil {
		return bad("raft address %q: %v", c.RaftAddr, err)
	}
	if c.AdminAddr != "off" {
		if _, _, err := net.SplitHostPort(c.AdminAddr); err != nil {
			return bad("admin address %q: %v", c.AdminAddr, err)
		}
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"session timeout", c.SessionTimeout}, {"leader grace", c.LeaderGrace},
		{"redelivery interval", c.RedeliveryInterval}, {"redelivery base", c.RedeliveryBase},
		{"redelivery max", c.RedeliveryMax}, {"flush interval", c.FlushInterval},
		{"close linger", c.CloseLinger}, {"shutdown timeout", c.ShutdownTimeout},
		{"client heartbeat", c.ClientHeartbeat}} {
		if d.v < time.Millisecond {
			return bad("%s %v must be at least 1ms", d.name, d.v)
		}
	}
	if c.SnapshotInterval < 5*time.Millisecond {
		return bad("snapshot interval %v must be at least 5ms", c.SnapshotInterval)
	}
	if c.ClientHeartbeat >= zmtp.DefaultHeartbeatTimeout {
		return bad("client heartbeat %v must be below the heartbeat timeout %v", c.ClientHeartbeat, zmtp.DefaultHeartbeatTimeout)
	}
	if c.FlushInterval >= c.SessionTimeout {
		return bad("flush interval %v must be below the session timeout %v", c.FlushInterval, c.SessionTimeout)
	}
	if c.RedeliveryMax < c.RedeliveryBase {
		return bad("redelivery max %v below redelivery base %v", c.RedeliveryMax, c.RedeliveryBase)
	}
	for _, n := range []struct {
		name string
		v    int
	}{{"max in flight", c.MaxInFlight}, {"max cached responses", c.MaxCachedResponses},
		{"max pending requests", c.MaxPendingRequests}, {"max connections", c.MaxConnections},
		{"max message size", c.MaxMessageSize}} {
		if n.v < 1 {
			return bad("%s %d must be positive", n.name, n.v)
		}
	}
	if len(c.Bootstrap) > 0 && len(c.Join) > 0 {
		return bad("bootstrap and join exclude each other")
	}
	if len(c.Bootstrap) > 0 {
		self := false
		seen := map[string]bool{}
		for _, m := range c.Bootstrap {
			if seen[m.ID] {
				return bad("bootstrap member %q listed twice", m.ID)
			}
			seen[m.ID] = true
			self = self || m.ID == c.MemberID
		}
		if !self {
			return bad("bootstrap members do not include this member %q", c.MemberID)
		}
	}
	return nil
}

// sessionConfig is the replicated session state machine's configuration: every member
// of a cluster, and a recovery of its data dir, must build it from the same values.
func (c Config) sessionConfig() session.Config {
	ms := func(d time.Duration) int64 { return d.Milliseconds() }
	return session.Config{
		SessionTimeout:     ms(c.SessionTimeout),
		LeaderGrace:        ms(c.LeaderGrace),
		MaxCachedResponses: c.MaxCachedResponses,
		MaxPendingRequests: c.MaxPendingRequests,
		RedeliveryBase:     ms(c.RedeliveryBase),
		RedeliveryMax:      ms(c.RedeliveryMax),
	}
}

func checkEndpoint(ep string) error {
	rest, ok := strings.CutPrefix(ep, "tcp://")
	if !ok {
		return errors.New("must start with tcp://")
	}
	_, _, err := net.SplitHostPort(rest)
	return err
}

// ParseMembers parses a bootstrap list: "id=raft-addr|client-endpoint,..." (the client
// endpoint part may be left out with its '|').
func ParseMembers(s string) ([]Member, error) {
	var out []Member
	for item := range strings.SplitSeq(s, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		id, rest, ok := strings.Cut(item, "=")
		if !ok || id == "" || rest == "" {
			return nil, fmt.Errorf("%w: member %q is not id=raft-addr|client-endpoint", ErrInvalidConfig, item)
		}
		raftAddr, client, _ := strings.Cut(rest, "|")
		if _, _, err := net.SplitHostPort(raftAddr); err != nil {
			return nil, fmt.Errorf("%w: member %q raft address: %v", ErrInvalidConfig, id, err)
		}
		if client != "" {
			if err := checkEndpoint(client); err != nil {
				return nil, fmt.Errorf("%w: member %q client endpoint %q: %v", ErrInvalidConfig, id, client, err)
			}
		}
		out = append(out, Member{ID: id, RaftAddr: raftAddr, ClientEndpoint: client})
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: empty member list", ErrInvalidConfig)
	}
	return out, nil
}

// adminURL turns an admin address (host:port or an http URL) into a base URL.
func adminURL(addr string) (string, error) {
	if !strings.Contains(addr, "://") {
		addr = "http://" + addr
	}
	u, err := url.Parse(addr)
	if err != nil || u.Host == "" {
		return "", fmt.Errorf("%w: admin address %q", ErrInvalidConfig, addr)
	}
	return strings.TrimSuffix(u.String(), "/"), nil
}
