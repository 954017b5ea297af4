package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/zraft/zraft/server"
)

// settings is everything zraftd's flags and environment decide.
type settings struct {
	cfg      server.Config
	logLevel slog.Level
	// recover, when set, asks zraftd to rewrite the data dir's Raft configuration to
	// these members and exit instead of serving.
	recover []server.Member
	// telemetryConsole adds the console (stdout) exporter for traces and metrics, for
	// debugging; OTEL_* variables configure the rest.
	telemetryConsole bool
}

// errHelp: -h or --help was asked for; the usage was written.
var errHelp = errors.New("help requested")

// parseSettings reads flags from args and, for every flag not given there, the
// ZRAFT_<NAME> environment variable (flags win). Errors are one line.
func parseSettings(args []string, getenv func(string) string, usage io.Writer) (settings, error) {
	var s settings
	c := &s.cfg
	fs := flag.NewFlagSet("zraftd", flag.ContinueOnError)
	fs.SetOutput(io.Discard)

	fs.StringVar(&c.MemberID, "id", server.DefaultMemberID, "member id, stable across restarts")
	fs.StringVar(&c.ClientAddr, "client-addr", server.DefaultClientAddr, "endpoint clients connect to (tcp://host:port)")
	fs.StringVar(&c.AdvertiseClient, "advertise-client", "", "client endpoint other members name to clients (default: the bound one)")
	fs.StringVar(&c.RaftAddr, "raft-addr", server.DefaultRaftAddr, "host:port of the Raft transport between members")
	fs.StringVar(&c.AdminAddr, "admin-addr", server.DefaultAdminAddr, "host:port of the HTTP admin listener, or off")
	fs.StringVar(&c.DataDir, "data", server.DefaultDataDir, "data directory (Raft log, snapshots)")
	bootstrap := fs.String("bootstrap", "", "initial members of a new cluster: id=raft-addr|client-endpoint,...")
	join := fs.String("join", "", "admin addresses of existing members to ask to add this one: host:port,...")
	recoverList := fs.String("recover", "", "rewrite the stopped data dir's Raft configuration to these members and exit: id=raft-addr|client-endpoint,...")

	fs.DurationVar(&c.SessionTimeout, "session-timeout", 30*time.Second, "a session without activity for this long expires")
	fs.DurationVar(&c.LeaderGrace, "leader-grace", 10*time.Second, "keep-alive grace: no session expires until this long after a new leader started")
	fs.DurationVar(&c.RedeliveryInterval, "redelivery-interval", time.Second, "how often unacknowledged server requests are considered for redelivery")
	fs.DurationVar(&c.RedeliveryBase, "redelivery-base", time.Second, "first redelivery delay, doubled per attempt")
	fs.DurationVar(&c.RedeliveryMax, "redelivery-max", 30*time.Second, "cap of the redelivery delay")
	fs.DurationVar(&c.FlushInterval, "flush-interval", time.Second, "how often session activity and acknowledgements are written to the log")
	fs.DurationVar(&c.ClientHeartbeat, "client-heartbeat", server.DefaultClientHeartbeat, "how often a ZMTP PING goes to each client connection (below 10s)")
	clientPoller := fs.Bool("client-poller", true, "hold idle client connections in an epoll set instead of a goroutine each (Linux); false for members whose clients are all busy")
	fs.IntVar(&c.MaxInFlight, "max-in-flight", 1024, "requests and queries per session waiting for the log")
	fs.IntVar(&c.MaxCachedResponses, "max-cached-responses", 1024, "cached responses per session")
	fs.IntVar(&c.MaxPendingRequests, "max-pending-requests", 1024, "unacknowledged server requests per session")
	fs.IntVar(&c.MaxConnections, "max-connections", 10_000, "client connections")
	fs.IntVar(&c.MaxMessageSize, "max-message-size", 8<<20, "largest client message in bytes")
	fs.Uint64Var(&c.SnapshotThreshold, "snapshot-threshold", server.DefaultSnapshotThreshold, "new log entries that make the member write a snapshot")
	fs.DurationVar(&c.SnapshotInterval, "snapshot-interval", server.DefaultSnapshotInterval, "how often the snapshot threshold is checked (at least 5ms)")
	fs.DurationVar(&c.ShutdownTimeout, "shutdown-timeout", server.DefaultShutdownWait, "bound of a graceful shutdown")
	fs.BoolVar(&c.Pprof, "pprof", false, "serve Go's profiler under /debug/pprof/ on the admin listener")
	fs.BoolVar(&s.telemetryConsole, "telemetry-console", false, "also write traces and metrics to stdout, for debugging (turns tracing on)")
	level := fs.String("log-level", "info", "debug, info, warn or error")

	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fs.SetOutput(usage)
			fmt.Fprintln(usage, "Usage: zraftd [flags]   (every flag also as ZRAFT_<NAME>, e.g. ZRAFT_CLIENT_ADDR; flags win)")
			fs.PrintDefaults()
			return s, errHelp
		}
		return s, err
	}
	if fs.NArg() > 0 {
		return s, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	var envErr error
	fs.VisitAll(func(f *flag.Flag) {
		name := envName(f.Name)
		if v := getenv(name); v != "" && !given[f.Name] && envErr == nil {
			if err := fs.Set(f.Name, v); err != nil {
				envErr = fmt.Errorf("invalid value %q for %s: %v", v, name, err)
			}
		}
	})
	if envErr != nil {
		return s, envErr
	}
	// server.Config takes a zero as "the default": from an operator, a zero would be
	// silently replaced (--snapshot-threshold 0 reads like "never"), so it is refused.
	for _, name := range []string{"session-timeout", "leader-grace", "redelivery-interval", "redelivery-base",
		"redelivery-max", "flush-interval", "client-heartbeat", "max-in-flight", "max-cached-responses",
		"max-pending-requests", "max-connections", "max-message-size", "snapshot-threshold", "snapshot-interval",
		"shutdown-timeout"} {
		if v := fs.Lookup(name).Value.String(); v == "0" || v == "0s" {
			return s, fmt.Errorf("--%s (%s) must be above zero", name, envName(name))
		}
	}
	if err := s.logLevel.UnmarshalText([]byte(*level)); err != nil {
		return s, fmt.Errorf("invalid log level %q (debug, info, warn, error)", *level)
	}
	if *bootstrap != "" {
		members, err := server.ParseMembers(*bootstrap)
		if err != nil {
			return s, err
		}
		c.Bootstrap = members
	}
	if *recoverList != "" {
		members, err := server.ParseMembers(*recoverList)
		if err != nil {
			return s, fmt.Errorf("recover: %w", err)
		}
		if !slices.ContainsFunc(members, func(m server.Member) bool { return m.ID == c.MemberID }) {
			return s, fmt.Errorf("recover: the members do not include this member %q (--id)", c.MemberID)
		}
		s.recover = members
	}
	for a := range strings.SplitSeq(*join, ",") {
		if a = strings.TrimSpace(a); a != "" {
			c.Join = append(c.Join, a)
		}
	}
	c.DisableClientPoller = !*clientPoller
	*c = c.WithDefaults()
	if err := c.Validate(); err != nil {
		return s, err
	}
	return s, nil
}

// envName maps a flag name to its environment variable: client-addr -> ZRAFT_CLIENT_ADDR.
func envName(flagName string) string {
	return "ZRAFT_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}
