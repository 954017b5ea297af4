package server

import (
	"context"
	"crypto/rand"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/zraft/zraft/adapters/raftnode"
	"github.com/zraft/zraft/adapters/telemetry"
	"github.com/zraft/zraft/adapters/zmtp"
	"github.com/zraft/zraft/domain/gateway"
	"github.com/zraft/zraft/domain/session"
	"github.com/zraft/zraft/protocol"
)

// loop is the gateway engine's shell: one goroutine owns the engine and feeds it the
// transport's events, the applied entries, leadership events, failed proposals and read
// results, and ticks; it carries out the outputs without ever waiting for a commit.
type loop struct {
	g       *gateway.Gateway
	metrics *telemetry.ServerMetrics // nil-safe: nil records nothing
	tracer  *tracer                  // nil-safe: nil traces nothing
	sm      *stateMachine
	node    consensus
	tr      clientTransport
	in      *inbox
	log     *slog.Logger
	linger  time.Duration
	tick    time.Duration
	// holdLeadership: a graceful shutdown hands leadership over; its events wait.
	holdLeadership bool

	housekeep      func() []byte // under the machine lock; nil: none
	housekeepEvery time.Duration
	nextHousekeep  time.Time

	conns map[gateway.RoutingID]struct{}

	// work runs proposals and reads; workCtx is cancelled when the loop ends.
	work      sync.WaitGroup
	workCtx   context.Context
	proposals proposalQueue
	stats     atomic.Pointer[gateway.Stats]
	leader    atomic.Bool
	buf       []gateway.Input
}

func nowMillis() int64 { return time.Now().UnixMilli() }

// step feeds one input, logging misuse (which the engine survives).
func (l *loop) step(in gateway.Input) {
	if err := l.g.Step(nowMillis(), in); err != nil {
		l.log.Warn("server: gateway input refused", "input", fmt.Sprintf("%T", in), "err", err)
	}
}

// transportEvent feeds one event of the client socket.
func (l *loop) transportEvent(ev zmtp.Event) {
	rid := gateway.RoutingID(ev.RoutingID)
	switch ev.Kind {
	case zmtp.EventOpened:
		l.conns[rid] = struct{}{}
		l.metrics.ConnectionOpened(context.Background())
	case zmtp.EventMessage:
		msg := gateway.Message{RoutingID: rid, Bytes: ev.Data}
		if gateway.NeedsSessionID(ev.Data) {
			msg.NewSessionID = newSessionID()
		}
		l.step(msg)
		if l.tracer != nil {
			// What the gateway decoded: its outputs wait for carryOut, so the span
			// exists before the reply or the proposal is carried out.
			m, sess := l.g.LastMessage()
			l.tracer.received(rid, sess, m)
		}
	case zmtp.EventClosed:
		if _, ok := l.conns[rid]; ok {
			l.metrics.ConnectionClosed(context.Background())
		}
		delete(l.conns, rid)
		l.step(gateway.ConnectionClosed{RoutingID: rid})
		l.tracer.connClosed(rid)
	}
}

// drainInbox feeds everything other goroutines handed back.
func (l *loop) drainInbox() {
	l.buf = l.in.take(l.buf[:0])
	for i, in := range l.buf {
		if _, ok := in.(gateway.LeadershipChanged); ok && l.holdLeadership {
			l.buf[i] = nil
			continue // superseded by the state fed once the hand-over is done
		}
		if a, ok := in.(gateway.Applied); ok && l.metrics != nil && l.g.IsLeader() {
			l.countApplied(a.Result)
		}
		if l.tracer != nil {
			l.traceInput(in)
		}
		l.step(in)
		l.buf[i] = nil
	}
}

// traceInput tells the tracer what an input from another goroutine means for its spans.
func (l *loop) traceInput(in gateway.Input) {
	switch in := in.(type) {
	case gateway.Applied:
		l.tracer.applied(in.Command)
	case gateway.ProposalFailed:
		l.tracer.proposalFailed(in.Command)
	case gateway.LeadershipChanged:
		if !in.IsLeader {
			l.tracer.endAll("leadership lost")
		}
	}
}

// onTick lets time pass in the engine and runs the housekeeping check.
func (l *loop) onTick(now time.Time) {
	l.g.Tick(now.UnixMilli())
	l.tracer.sweep(now)
	if l.housekeep != nil && l.g.IsLeader() && !now.Before(l.nextHousekeep) {
		l.nextHousekeep = now.Add(l.housekeepEvery)
		l.sm.mu.Lock()
		payload := l.housekeep()
		l.sm.mu.Unlock()
		if payload != nil {
			// Not the gateway's proposal: its entry reaches the engine as Applied like
			// every other, and a failure is retried at the next round.
			l.proposeInternal(session.Internal{At: now.UnixMilli(), Payload: payload})
		}
	}
}

// carryOut performs the engine's outputs in order.
func (l *loop) carryOut() {
	for _, out := range l.g.Ready() {
		switch o := out.(type) {
		case gateway.Send:
			l.send(o.RoutingID, o.Message)
		case gateway.Close:
			// The messages just queued for this connection (a rejection, a redirect)
			// reach the client first; the engine ignores what still arrives meanwhile.
			if err := l.tr.DisconnectAfterFlush(zmtp.RoutingID(o.RoutingID), l.linger); err != nil {
				l.log.Debug("server: disconnect", "conn", o.RoutingID, "err", err)
			}
		case gateway.Propose:
			l.tracer.proposed(o.Command)
			l.propose(o.Command)
		case gateway.Read:
			l.read(o)
		}
	}
	st := l.g.Stats()
	l.stats.Store(&st)
	l.leader.Store(l.g.IsLeader())
}

// countApplied records the sessions an entry created and ended and the commands it
// answered (on the leader only, so that a cluster counts each once).
func (l *loop) countApplied(r session.Result) {
	ctx := context.Background()
	for range r.Created {
		l.metrics.SessionCreated(ctx)
	}
	for range r.Expired {
		l.metrics.SessionExpired(ctx)
	}
	for range r.Closed {
		l.metrics.SessionClosed(ctx)
	}
	for _, o := range r.Outcomes {
		switch {
		case o.Kind != session.Replied && o.Kind != session.AppFailed:
		case o.Cached:
			l.metrics.CommandAnswered(ctx, telemetry.OutcomeCached)
		case o.Kind == session.AppFailed:
			l.metrics.CommandAnswered(ctx, telemetry.OutcomeError)
		default:
			l.metrics.CommandAnswered(ctx, telemetry.OutcomeApplied)
		}
	}
}

// countSent records what a reply tells the client.
func (l *loop) countSent(m protocol.ServerMessage) {
	ctx := context.Background()
	switch m := m.(type) {
	case *protocol.QueryResponse:
		l.metrics.QueryAnswered(ctx, 0, telemetry.OutcomeOK)
	case *protocol.ServerRequest:
		l.metrics.ServerRequestSent(ctx)
	case *protocol.SessionRejected:
		l.metrics.SessionRejected(ctx, m.Reason)
		if m.Reason == protocol.RejectNotLeader {
			l.metrics.Redirected(ctx)
		}
	case *protocol.SessionClosed:
		if m.Reason == protocol.CloseNotLeaderAnymore {
			l.metrics.Redirected(ctx)
		}
	case *protocol.RequestError:
		l.metrics.RequestRejected(ctx, m.Reason)
	}
}

func (l *loop) send(rid gateway.RoutingID, m protocol.ServerMessage) {
	if l.metrics != nil {
		l.countSent(m)
	}
	if l.tracer != nil {
		sess, _ := l.g.SessionOf(rid)
		m = l.tracer.sent(rid, sess, m)
	}
	b, err := protocol.AppendServerMessage(nil, m)
	if err != nil {
		l.log.Error("server: reply does not encode", "conn", rid, "err", err)
		return
	}
	if err := l.tr.Send(zmtp.RoutingID(rid), b); err != nil {
		// Overflow closed the connection (its Closed event follows): the client continues
		// its session and gets what is pending again. An unknown peer has left already.
		l.log.Debug("server: send", "conn", rid, "err", err)
	}
}

// propose replicates cmd without blocking the loop; success comes back as Applied.
func (l *loop) propose(cmd session.Command) {
	data, err := session.EncodeCommand(nil, cmd)
	if err != nil {
		l.log.Error("server: command does not encode", "err", err)
		return
	}
	l.enqueueProposal(proposal{data: data, cmd: cmd})
}

func (l *loop) proposeInternal(cmd session.Internal) {
	data, err := session.EncodeCommand(nil, cmd)
	if err != nil {
		l.log.Error("server: internal command does not encode", "err", err)
		return
	}
	l.enqueueProposal(proposal{data: data, internal: true})
}

func (l *loop) read(r gateway.Read) {
	level := raftnode.Linearizable
	switch r.Consistency {
	case protocol.ConsistencyLease:
		level = raftnode.Lease
	case protocol.ConsistencyStale:
		level = raftnode.Stale
	}
	l.work.Add(1)
	go func() {
		defer l.work.Done()
		var out session.Outcome
		err := l.node.Read(l.workCtx, level, func() { out = l.sm.query(r.Session, r.Payload) })
		if err != nil {
			l.in.push(gateway.ReadFailed{ID: r.ID})
			return
		}
		l.in.push(gateway.ReadDone{ID: r.ID, Outcome: out})
	}()
}

// sayGoodbye tells every client that owns a session here that this member shuts down
// (naming the leader when one is known), so that it continues elsewhere at once.
func (l *loop) sayGoodbye() {
	st := l.node.State()
	for rid := range l.conns {
		if _, ok := l.g.SessionOf(rid); !ok {
			continue
		}
		msg := &protocol.SessionClosed{Reason: protocol.CloseShutdown}
		if st.Leader.ID != "" && st.Leader.ID != l.node.Self().ID {
			msg.Leader, msg.HasLeader = protocol.MemberID(st.Leader.ID), true
		}
		l.send(rid, msg)
	}
}

// leadershipInput turns a raftnode event into the engine's input. While this member
// hands leadership over, raft still names it leader: clients must not be sent back here.
func leadershipInput(ev raftnode.Event, self string) gateway.LeadershipChanged {
	lc := gateway.LeadershipChanged{
		IsLeader: ev.Role == raftnode.RoleLeader,
		Term:     ev.Term,
		Leader:   protocol.MemberID(ev.Leader.ID),
	}
	if !lc.IsLeader && ev.Leader.ID == self {
		lc.Leader = ""
	}
	for _, m := range ev.Members {
		if m.ClientEndpoint != "" {
			lc.Members = append(lc.Members, protocol.Member{ID: protocol.MemberID(m.ID), Endpoint: m.ClientEndpoint})
		}
	}
	return lc
}

// forwardEvents hands leadership events to the loop until the subscription ends.
func forwardEvents(sub *raftnode.Subscription, in *inbox, self string) {
	for ev := range sub.C() {
		if ev.Role == raftnode.RoleShutdown {
			continue
		}
		in.push(leadershipInput(ev, self))
	}
}

// newSessionID returns a random (version 4) UUID.
func newSessionID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	const hex = "0123456789abcdef"
	out := make([]byte, 0, 36)
	for i, c := range b {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			out = append(out, '-')
		}
		out = append(out, hex[c>>4], hex[c&0x0f])
	}
	return string(out)
}

// tickInterval is fine enough for the engine's flush and redelivery intervals.
func tickInterval(cfg Config) time.Duration {
	d := min(cfg.FlushInterval, cfg.RedeliveryInterval) / 4
	return max(min(d, 100*time.Millisecond), 5*time.Millisecond)
}
