package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"runtime"
	"sync"
	"time"

	"go.opentelemetry.io/otel/metric"
	"go.opentelemetry.io/otel/trace"

	"github.com/zraft/zraft/adapters/raftnode"
	"github.com/zraft/zraft/adapters/telemetry"
	"github.com/zraft/zraft/adapters/zmtp"
	"github.com/zraft/zraft/domain/gateway"
	"github.com/zraft/zraft/domain/session"
	"github.com/zraft/zraft/server/kv"
)

// appliedBacklog bounds the applied entries waiting for the gateway loop (see inbox).
const appliedBacklog = 16384

// eventBacklog bounds the client socket's events waiting for the gateway loop (see
// eventQueue); the transport queues more of its own.
const eventBacklog = 4096

// eventBatch bounds the events the loop handles before it carries out their outputs and
// yields (see eventQueue).
const eventBatch = 256

// Option changes how New composes a member.
type Option func(*options)

type options struct {
	metrics   *telemetry.ServerMetrics
	tracing   trace.TracerProvider
	handlers  map[string]http.Handler
	logger    *slog.Logger
	app       session.Application
	housekeep func() []byte
	raft      func(*raftnode.Config)
	transport []zmtp.Option
}

// WithTracerProvider traces the commands and queries that arrive with a trace context
// (spans "zraft.server.command" with a "zraft.server.propose" child, and
// "zraft.server.query", children of the client's span) and the server-initiated requests
// sent to clients that negotiated extensions ("zraft.server.server_request", whose
// context travels in the request). Default: no tracing, and no cost.
func WithTracerProvider(tp trace.TracerProvider) Option {
	return func(o *options) { o.tracing = tp }
}

// WithLogger sets the logger of the member and its adapters. Default slog.Default().
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.logger = l } }

// WithApplication sets the replicated application. Default: the key-value example
// (server/kv). Every member of a cluster must run the same application.
func WithApplication(app session.Application) Option { return func(o *options) { o.app = app } }

// WithMetrics records the member's metrics (connections, sessions, answers, rejections,
// server requests, and the session and Raft gauges) with m. Default: none.
func WithMetrics(m *telemetry.ServerMetrics) Option { return func(o *options) { o.metrics = m } }

// WithAdminHandler serves h on the admin listener under pattern (an http.ServeMux
// pattern), e.g. "/metrics" for a Prometheus handler.
func WithAdminHandler(pattern string, h http.Handler) Option {
	return func(o *options) {
		if o.handlers == nil {
			o.handlers = map[string]http.Handler{}
		}
		o.handlers[pattern] = h
	}
}

// WithHousekeeping sets a check the leader runs every RedeliveryInterval, under the state
// machine's lock: a non-nil result is proposed as a session.Internal command (for
// example the key-value App's Flush while watchers have missed notifications). With the
// default application this is set to exactly that.
func WithHousekeeping(f func() []byte) Option { return func(o *options) { o.housekeep = f } }

// WithRaftConfig lets the caller adjust the consensus configuration (timings, snapshot
// thresholds) after the server filled it in.
func WithRaftConfig(f func(*raftnode.Config)) Option { return func(o *options) { o.raft = f } }

// WithTransportOptions adds options to the client socket (heartbeats, queues).
func WithTransportOptions(opts ...zmtp.Option) Option {
	return func(o *options) { o.transport = append(o.transport, opts...) }
}

// Server is one running cluster member: the client socket, the gateway loop, the
// consensus with its storage, and the admin listener. Create it with New, run it with Run.
type Server struct {
	cfg   Config
	log   *slog.Logger
	sm    *stateMachine
	node  consensus
	tr    clientTransport
	in    *inbox
	loop  *loop
	admin net.Listener // nil when off
	extra map[string]http.Handler
	gauge []metric.Registration

	started   chan struct{} // closed when Run starts
	kill      chan struct{} // closed by Close
	done      chan struct{} // closed when Run or Close finished tearing down
	startOnce sync.Once
	killOnce  sync.Once
	downOnce  sync.Once
	downErr   error
}

// New binds the client socket, the Raft transport and the admin listener, opens the
// storage under cfg.DataDir and starts consensus. Serving begins with Run.
func New(cfg Config, opts ...Option) (*Server, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	o := options{logger: slog.Default()}
	for _, opt := range opts {
		opt(&o)
	}
	if o.app == nil {
		o.app = kv.New()
	}
	if app, ok := o.app.(*kv.App); ok && o.housekeep == nil {
		o.housekeep = func() []byte {
			if app.Stats().LaggingSessions > 0 {
				return kv.FlushCommand()
			}
			return nil
		}
	}
	log := o.logger.With("member", cfg.MemberID)
	nodeLog := o.logger // raftnode adds the member itself
	s := &Server{cfg: cfg, log: log, in: newInbox(appliedBacklog),
		started: make(chan struct{}), kill: make(chan struct{}), done: make(chan struct{})}
	ms := func(d time.Duration) int64 { return d.Milliseconds() }
	s.sm = &stateMachine{log: log, out: s.in, m: session.New(cfg.sessionConfig(), o.app)}
	var undo []func() error
	fail := func(err error) (*Server, error) {
		for i := len(undo) - 1; i >= 0; i-- {
			_ = undo[i]()
		}
		return nil, err
	}

	topts := append([]zmtp.Option{zmtp.WithLogger(log.With("component", "zmtp")),
		zmtp.WithMaxConnections(cfg.MaxConnections), zmtp.WithMaxMessageSize(cfg.MaxMessageSize),
		zmtp.WithHeartbeat(cfg.ClientHeartbeat, zmtp.DefaultHeartbeatTimeout, zmtp.DefaultHeartbeatTTL),
		zmtp.WithPoller(!cfg.DisableClientPoller)}, o.transport...)
	tr, err := zmtp.Listen(context.Background(), cfg.ClientAddr, topts...)
	if err != nil {
		return fail(fmt.Errorf("server: client listener: %w", err))
	}
	s.tr = tr
	undo = append(undo, tr.Close)
	endpoint := cfg.AdvertiseClient
	if endpoint == "" {
		endpoint = tr.Addr()
	}

	if cfg.AdminAddr != "off" {
		ln, err := net.Listen("tcp", cfg.AdminAddr)
		if err != nil {
			return fail(fmt.Errorf("server: admin listener: %w", err))
		}
		s.admin = ln
		undo = append(undo, ln.Close)
	}

	rc := raftnode.Config{
		MemberID:          cfg.MemberID,
		BindAddr:          cfg.RaftAddr,
		ClientEndpoint:    endpoint,
		DataDir:           cfg.DataDir,
		SnapshotThreshold: cfg.SnapshotThreshold,
		SnapshotInterval:  cfg.SnapshotInterval,
		Logger:            nodeLog,
		LeaderStartedCommand: func(term uint64) []byte {
			b, err := session.EncodeCommand(nil, session.LeaderStarted{At: nowMillis(), Term: term})
			if err != nil {
				panic(err) // a fixed, valid command: cannot happen
			}
			return b
		},
	}
	for _, m := range cfg.Bootstrap {
		rc.BootstrapMembers = append(rc.BootstrapMembers, raftnode.Member(m))
	}
	if o.raft != nil {
		o.raft(&rc)
	}
	if rc.Stores == nil {
		rc.Stores = pebbleStores(max(rc.SnapshotRetain, 2), log.With("component", "storage"))
	}
	node, err := raftnode.New(rc, s.sm)
	if err != nil {
		return fail(fmt.Errorf("server: start consensus: %w", err))
	}
	s.node = node

	g, err := gateway.New(gateway.Config{
		View:               s.sm,
		FlushInterval:      ms(cfg.FlushInterval),
		RedeliveryInterval: ms(cfg.RedeliveryInterval),
		MaxInFlight:        cfg.MaxInFlight,
		MaxMessageSize:     cfg.MaxMessageSize,
	})
	if err != nil {
		_ = node.Close()
		return fail(err)
	}
	s.extra = o.handlers
	if o.metrics != nil {
		regS, err1 := o.metrics.ObserveSessions(func(context.Context) telemetry.SessionState { return s.sm.gauges() })
		regR, err2 := o.metrics.ObserveRaft(func(context.Context) telemetry.RaftState {
			st := s.node.Stats()
			return telemetry.RaftState{Term: st.Term, CommitIndex: st.CommitIndex, AppliedIndex: st.AppliedIndex}
		})
		if err := errors.Join(err1, err2); err != nil {
			_ = node.Close()
			return fail(fmt.Errorf("server: metrics: %w", err))
		}
		s.gauge = []metric.Registration{regS, regR}
	}
	s.loop = &loop{g: g, metrics: o.metrics, tracer: newTracer(o.tracing, cfg.MemberID, log), sm: s.sm, node: s.node, tr: s.tr, in: s.in, log: log, linger: cfg.CloseLinger,
		tick: tickInterval(cfg), housekeep: o.housekeep, housekeepEvery: cfg.RedeliveryInterval, conns: map[gateway.RoutingID]struct{}{}}
	return s, nil
}

// ID returns the member id.
func (s *Server) ID() string { return s.cfg.MemberID }

// ClientEndpoint returns the endpoint clients connect to (tcp://host:port).
func (s *Server) ClientEndpoint() string { return s.tr.Addr() }

// RaftAddr returns the advertised Raft address.
func (s *Server) RaftAddr() string { return s.node.Self().RaftAddr }

// AdminAddr returns the admin listener's host:port ("" when it is off).
func (s *Server) AdminAddr() string {
	if s.admin == nil {
		return ""
	}
	return s.admin.Addr().String()
}

// IsLeader reports whether the member's gateway currently serves as the leader.
func (s *Server) IsLeader() bool { return s.loop.leader.Load() }

// Member describes this member as the bootstrap list and the admin API name it.
func (s *Server) Member() Member {
	self := s.node.Self()
	return Member{ID: self.ID, RaftAddr: self.RaftAddr, ClientEndpoint: self.ClientEndpoint}
}

// Run serves until ctx is done (then shuts down gracefully: a leader hands over
// leadership, clients with a session here are told SessionClosed(Shutdown) with the
// leader's id, queued replies are flushed, storage is closed) or until Close. A new
// member bootstraps (Config.Bootstrap, or alone) or asks to join (Config.Join) first.
// Run returns nil after a shutdown it was asked for.
func (s *Server) Run(ctx context.Context) error {
	first := false
	s.startOnce.Do(func() { first = true; close(s.started) })
	if !first {
		return ErrClosed
	}
	select {
	case <-s.kill:
		s.teardown()
		return ErrClosed
	default:
	}
	l := s.loop
	workCtx, cancelWork := context.WithCancel(context.Background())
	defer cancelWork()
	l.workCtx = workCtx

	sub := s.node.Subscribe()
	go forwardEvents(sub, s.in, s.cfg.MemberID)

	var bg sync.WaitGroup
	bgCtx, cancelBg := context.WithCancel(ctx)
	defer cancelBg()
	if err := s.start(bgCtx, &bg); err != nil {
		cancelBg()
		bg.Wait()
		sub.Close()
		s.teardown()
		return err
	}

	// The client socket is read until the very end, also while a graceful shutdown
	// hands leadership over and says goodbye.
	readCtx, cancelRead := context.WithCancel(context.Background())
	defer cancelRead()
	events := newEventQueue(eventBacklog)
	bg.Add(1)
	go func() {
		defer bg.Done()
		for {
			ev, err := s.tr.Recv(readCtx)
			if err != nil || !events.push(ev) {
				return
			}
		}
	}()
	var batch []zmtp.Event

	ticker := time.NewTicker(l.tick)
	defer ticker.Stop()
	var transferred chan struct{}
	var deadline <-chan time.Time
	graceful := false
	stop := ctx.Done()
serve:
	for {
		select {
		case <-events.notify:
			var more bool
			batch, more = events.take(batch[:0], eventBatch)
			for i, ev := range batch {
				l.transportEvent(ev)
				batch[i] = zmtp.Event{} // the loop keeps no message bytes alive
			}
			if more {
				// Let the writers this batch started, and Raft, run before the next one.
				l.carryOut()
				runtime.Gosched()
				continue
			}
		case <-s.in.notify:
			l.drainInbox()
		case now := <-ticker.C:
			l.onTick(now)
		case <-stop:
			// Graceful: keep serving while leadership moves, so that the clients hear
			// where to go; then say goodbye.
			stop, graceful = nil, true
			deadline = time.After(s.cfg.ShutdownTimeout)
			transferred = make(chan struct{})
			go func() {
				defer close(transferred)
				if st := s.node.State(); st.Role == raftnode.RoleLeader && len(st.Members) > 1 {
					tctx, cancel := context.WithTimeout(context.Background(), s.cfg.ShutdownTimeout)
					defer cancel()
					if err := s.node.TransferLeadership(tctx, ""); err != nil {
						s.log.Warn("server: leadership transfer before shutdown failed", "err", err)
					}
					// Wait a little for the new leader to be known, to name it to clients.
					for end := time.Now().Add(2 * time.Second); time.Now().Before(end); time.Sleep(10 * time.Millisecond) {
						if id := s.node.State().Leader.ID; id != "" && id != s.cfg.MemberID {
							break
						}
					}
				}
			}()
			// Until the hand-over is done the clients stay bound here; then each is told
			// where the new leader is (the step-down names it).
			l.holdLeadership = true
		case <-transferred:
			l.holdLeadership = false
			l.drainInbox()
			l.step(leadershipInput(s.node.State(), s.cfg.MemberID))
			l.carryOut()
			break serve
		case <-deadline:
			break serve
		case <-s.kill:
			break serve
		}
		l.carryOut()
	}
	if graceful {
		// Give the leadership event a moment to arrive, then tell who is left.
		time.Sleep(min(s.cfg.CloseLinger, 100*time.Millisecond))
		l.drainInbox()
		l.sayGoodbye()
		l.carryOut()
		// Close every connection once its queue is written (the last replies and the
		// goodbyes), bounded by CloseLinger.
		for rid := range l.conns {
			_ = s.tr.DisconnectAfterFlush(zmtp.RoutingID(rid), s.cfg.CloseLinger)
		}
		flushed := time.After(s.cfg.CloseLinger + 100*time.Millisecond)
	flush:
		for len(l.conns) > 0 {
			select {
			case <-events.notify:
				batch, _ = events.take(batch[:0], eventBacklog)
				for _, ev := range batch {
					if ev.Kind == zmtp.EventClosed {
						delete(l.conns, gateway.RoutingID(ev.RoutingID))
					}
				}
			case <-flushed:
				break flush
			}
		}
	}
	l.tracer.endAll("member stopped")
	events.close()
	cancelRead()
	cancelBg()
	cancelWork()
	sub.Close()
	s.teardown()
	bg.Wait()
	if graceful {
		s.log.Info("server: stopped")
	}
	return nil
}

// start bootstraps or joins, and serves the admin listener in the background.
func (s *Server) start(ctx context.Context, bg *sync.WaitGroup) error {
	if len(s.cfg.Join) == 0 {
		var members []raftnode.Member
		for _, m := range s.cfg.Bootstrap {
			members = append(members, raftnode.Member(m))
		}
		err := s.node.Bootstrap(ctx, members...)
		switch {
		case errors.Is(err, raftnode.ErrAlreadyBootstrapped):
			s.log.Info("server: resuming from the data dir", "dir", s.cfg.DataDir)
		case err != nil:
			return fmt.Errorf("server: bootstrap: %w", err)
		default:
			s.log.Info("server: bootstrapped a new cluster", "members", max(len(members), 1))
		}
	} else {
		bg.Add(1)
		go func() {
			defer bg.Done()
			s.join(ctx)
		}()
	}
	if s.admin != nil {
		hs := &http.Server{Handler: s.adminHandler(), ReadHeaderTimeout: 5 * time.Second}
		bg.Add(2)
		go func() {
			defer bg.Done()
			if err := hs.Serve(s.admin); err != nil && !errors.Is(err, http.ErrServerClosed) {
				s.log.Debug("server: admin listener", "err", err)
			}
		}()
		go func() {
			defer bg.Done()
			select {
			case <-ctx.Done():
			case <-s.done:
			}
			_ = hs.Close()
		}()
	}
	return nil
}

// Close stops the member at once, as a crash would (no leadership transfer, no goodbye;
// storage is closed cleanly). It waits until everything has stopped.
func (s *Server) Close() error {
	s.killOnce.Do(func() { close(s.kill) })
	select {
	case <-s.started:
		<-s.done
	default:
		s.teardown()
	}
	return s.downErr
}

// teardown releases everything New acquired; once.
func (s *Server) teardown() {
	s.downOnce.Do(func() {
		s.in.close() // the state machine never waits for a loop that is gone
		err := s.tr.Close()
		if s.admin != nil {
			_ = s.admin.Close()
		}
		for _, r := range s.gauge {
			err = errors.Join(err, r.Unregister())
		}
		err = errors.Join(err, s.node.Close())
		s.loop.work.Wait()
		s.downErr = err
		close(s.done)
	})
}
