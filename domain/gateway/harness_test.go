package gateway

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/zraft/zraft/domain/session"
	"github.com/zraft/zraft/protocol"
)

// harness drives a Gateway against a real session.Machine, the way the server's loop
// does: proposals wait in a queue until the script commits (encode, decode, apply,
// feed Applied) or fails them; reads wait until served. After every input it checks the
// gateway's invariants and that every output is well-formed and addressed to an open
// connection.
type harness struct {
	g     *Gateway
	m     *session.Machine
	index uint64
	now   int64

	proposals []session.Command
	reads     []Read

	open   map[RoutingID]bool // connections that sent a message, not closed since
	closed map[RoutingID]bool // Close output, ConnectionClosed input not yet fed

	log func(format string, args ...any) // receives every output, formatted
}

func newHarness(cfg Config, scfg session.Config, log func(string, ...any)) (*harness, error) {
	h := &harness{m: session.New(scfg, testApp{}), open: map[RoutingID]bool{}, closed: map[RoutingID]bool{}, log: log}
	cfg.View = h.m
	g, err := New(cfg)
	if err != nil {
		return nil, err
	}
	h.g = g
	return h, nil
}

// step feeds one input and processes the outputs; misuse errors are returned.
func (h *harness) step(in Input) error {
	if msg, ok := in.(Message); ok && !h.closed[msg.RoutingID] {
		h.open[msg.RoutingID] = true
	}
	if cc, ok := in.(ConnectionClosed); ok {
		delete(h.open, cc.RoutingID)
		delete(h.closed, cc.RoutingID)
	}
	err := h.g.Step(h.now, in)
	if perr := h.drain(); perr != nil {
		return perr
	}
	return err
}

func (h *harness) tick(now int64) error {
	h.now = max(h.now, now)
	h.g.Tick(h.now)
	return h.drain()
}

func (h *harness) drain() error {
	for _, o := range h.g.Ready() {
		switch o := o.(type) {
		case Send:
			if !h.open[o.RoutingID] {
				return fmt.Errorf("invariant: send to connection %d, which is not open: %s", o.RoutingID, formatMessage(o.Message))
			}
			b, err := protocol.AppendServerMessage(nil, o.Message)
			if err != nil {
				return fmt.Errorf("invariant: unencodable %s: %w", formatMessage(o.Message), err)
			}
			back, err := protocol.DecodeServerMessage(b)
			if err != nil {
				return fmt.Errorf("invariant: encoding of %s does not decode: %w", formatMessage(o.Message), err)
			}
			h.log("send %d %s", o.RoutingID, formatMessage(back))
		case Close:
			if !h.open[o.RoutingID] {
				return fmt.Errorf("invariant: close of connection %d, which is not open", o.RoutingID)
			}
			delete(h.open, o.RoutingID)
			h.closed[o.RoutingID] = true
			h.log("close %d %s", o.RoutingID, o.Reason)
		case Propose:
			if _, err := session.EncodeCommand(nil, o.Command); err != nil {
				return fmt.Errorf("invariant: unencodable proposal %s: %w", formatCommand(o.Command), err)
			}
			h.proposals = append(h.proposals, o.Command)
			h.log("propose %s", formatCommand(o.Command))
		case Read:
			h.reads = append(h.reads, o)
			h.log("read #%d session=%s payload=%q consistency=%s", o.ID, o.Session, o.Payload, o.Consistency)
		default:
			return fmt.Errorf("invariant: unknown output %T", o)
		}
	}
	return h.check()
}

// check verifies the gateway's structural invariants.
func (h *harness) check() error {
	g := h.g
	for s, rid := range g.owners {
		c := g.conns[rid]
		if c == nil || c.session != s {
			return fmt.Errorf("invariant: session %s owned by connection %d, which does not own it", s, rid)
		}
		if c.closing {
			return fmt.Errorf("invariant: session %s owned by closing connection %d", s, rid)
		}
		if got, ok := g.Owner(s); !ok || got != rid {
			return fmt.Errorf("invariant: Owner(%s) = %d, %v; want %d", s, got, ok, rid)
		}
		if got, ok := g.SessionOf(rid); !ok || got != s {
			return fmt.Errorf("invariant: SessionOf(%d) = %q, %v; want %s", rid, got, ok, s)
		}
	}
	for rid, c := range g.conns {
		if c.id != rid {
			return fmt.Errorf("invariant: connection %d filed under %d", c.id, rid)
		}
		if c.session != "" && g.owners[c.session] != rid {
			return fmt.Errorf("invariant: connection %d owns %s, but the owner is %d", rid, c.session, g.owners[c.session])
		}
		if c.session != "" && c.creating != "" {
			return fmt.Errorf("invariant: connection %d owns %s and creates %s", rid, c.session, c.creating)
		}
		if c.creating != "" && g.creations[c.creating].rid != rid {
			return fmt.Errorf("invariant: connection %d creates %s, filed for %d", rid, c.creating, g.creations[c.creating].rid)
		}
		if c.closing != h.closed[rid] {
			return fmt.Errorf("invariant: connection %d closing=%v, harness says %v", rid, c.closing, h.closed[rid])
		}
	}
	counts := map[string]int{}
	for k := range g.requests {
		counts[k.session]++
	}
	for _, r := range g.reads {
		counts[r.session]++
	}
	if !maps.Equal(counts, g.inflight) {
		return fmt.Errorf("invariant: in flight per session %v, counted %v", g.inflight, counts)
	}
	if !g.leader && (len(g.owners) > 0 || len(g.creations) > 0 || len(g.requests) > 0 || len(g.reads) > 0 || len(g.retry) > 0) {
		return errors.New("invariant: leader-local state kept while not leading")
	}
	return nil
}

// commit applies the first n queued proposals to the machine and feeds them back.
func (h *harness) commit(n int) error {
	for range min(n, len(h.proposals)) {
		cmd := h.proposals[0]
		h.proposals = h.proposals[1:]
		if err := h.apply(cmd); err != nil {
			return err
		}
	}
	return nil
}

// apply appends cmd to the log, as any member's proposal would be.
func (h *harness) apply(cmd session.Command) error {
	entry, err := session.EncodeCommand(nil, cmd)
	if err != nil {
		return err
	}
	decoded, err := session.DecodeCommand(entry)
	if err != nil {
		return err
	}
	h.index++
	res, err := h.m.Apply(h.index, decoded)
	if err != nil {
		return err
	}
	return h.step(Applied{Command: decoded, Result: res})
}

// fail reports the first n queued proposals failed; with drop false they stay queued
// and may still be committed (the outcome of a timed-out proposal is unknown).
func (h *harness) fail(n int, drop bool) error {
	failed := slices.Clone(h.proposals[:min(n, len(h.proposals))])
	if drop {
		h.proposals = h.proposals[len(failed):]
	}
	for _, cmd := range failed {
		if err := h.step(ProposalFailed{Command: cmd}); err != nil {
			return err
		}
	}
	return nil
}

func (h *harness) serveReads(ok bool) error {
	reads := h.reads
	h.reads = nil
	for _, r := range reads {
		var in Input = ReadFailed{ID: r.ID}
		if ok {
			in = ReadDone{ID: r.ID, Outcome: h.m.Query(r.Session, r.Payload)}
		}
		if err := h.step(in); err != nil {
			return err
		}
	}
	return nil
}

// testApp is a small deterministic application: "push SESSION TEXT" sends a server
// request, "fail TEXT" is an application error, anything else is echoed. A session whose
// capabilities hold deny=yes is refused; one with welcome=yes gets a server request.
type testApp struct{}

func (testApp) Apply(env *session.Env, s string, payload []byte) ([]byte, error) {
	return run(env, payload)
}

func (testApp) ApplyInternal(env *session.Env, payload []byte) ([]byte, error) {
	return run(env, payload)
}

func run(env *session.Env, payload []byte) ([]byte, error) {
	words := strings.SplitN(string(payload), " ", 3)
	switch {
	case len(words) == 3 && words[0] == "push":
		seq, err := env.Send(words[1], []byte(words[2]))
		if err != nil {
			return nil, err
		}
		return []byte("pushed " + strconv.FormatUint(seq, 10)), nil
	case len(words) >= 2 && words[0] == "fail":
		return nil, &session.AppError{Data: []byte("error " + words[1])}
	}
	return append([]byte("ok "), payload...), nil
}

func (testApp) Query(s string, payload []byte) ([]byte, error) {
	return append([]byte("read "), payload...), nil
}

func (testApp) SessionCreated(env *session.Env, s string, caps []session.Capability) error {
	for _, c := range caps {
		if c.Key == "deny" && c.Value == "yes" {
			return &session.AppError{Data: []byte("denied")}
		}
		if c.Key == "welcome" && c.Value == "yes" {
			if _, err := env.Send(s, []byte("welcome")); err != nil {
				return err
			}
		}
	}
	return nil
}

func (testApp) SessionEnded(*session.Env, string, session.EndReason) {}
func (testApp) AppendSnapshot(dst []byte) []byte                     { return dst }
func (testApp) Restore([]byte) error                                 { return nil }

func formatExt(e *protocol.Extensions) string {
	if e == nil {
		return ""
	}
	var parts []string
	if e.Version != 0 {
		parts = append(parts, "version="+strconv.Itoa(int(e.Version)))
	}
	if len(e.Members) > 0 {
		var ms []string
		for _, m := range e.Members {
			ms = append(ms, string(m.ID)+"="+m.Endpoint)
		}
		parts = append(parts, "members="+strings.Join(ms, ","))
	}
	if e.Consistency != 0 {
		parts = append(parts, "consistency="+e.Consistency.String())
	}
	return " ext{" + strings.Join(parts, " ") + "}"
}

func formatLeader(id protocol.MemberID, has bool) string {
	if !has {
		return "leader=none"
	}
	return "leader=" + string(id)
}

func formatMessage(m protocol.ServerMessage) string {
	var s string
	switch m := m.(type) {
	case *protocol.SessionCreated:
		s = fmt.Sprintf("SessionCreated session=%s nonce=%d", m.SessionID, m.Nonce)
	case *protocol.SessionContinued:
		s = fmt.Sprintf("SessionContinued nonce=%d", m.Nonce)
	case *protocol.SessionRejected:
		s = fmt.Sprintf("SessionRejected %s nonce=%d %s", m.Reason, m.Nonce, formatLeader(m.Leader, m.HasLeader))
	case *protocol.SessionClosed:
		s = fmt.Sprintf("SessionClosed %s %s", m.Reason, formatLeader(m.Leader, m.HasLeader))
	case *protocol.KeepAliveResponse:
		s = fmt.Sprintf("KeepAliveResponse ts=%d", m.Timestamp)
	case *protocol.ClientResponse:
		s = fmt.Sprintf("ClientResponse id=%d result=%q", m.RequestID, m.Result)
	case *protocol.ServerRequest:
		s = fmt.Sprintf("ServerRequest id=%d payload=%q created=%d", m.RequestID, m.Payload, m.CreatedAt)
	case *protocol.RequestError:
		s = fmt.Sprintf("RequestError id=%d %s", m.RequestID, m.Reason)
	case *protocol.QueryResponse:
		s = fmt.Sprintf("QueryResponse corr=%s result=%q", m.CorrelationID, m.Result)
	default:
		return fmt.Sprintf("%T", m)
	}
	return s + formatExt(m.Extensions())
}

func formatCommand(c session.Command) string {
	switch c := c.(type) {
	case session.CreateSession:
		var caps []string
		for _, kv := range c.Capabilities {
			caps = append(caps, kv.Key+"="+kv.Value)
		}
		return fmt.Sprintf("CreateSession @%d %s caps=%s", c.At, c.ID, strings.Join(caps, ","))
	case session.ClientRequest:
		return fmt.Sprintf("ClientRequest @%d %s#%d lowest=%d payload=%q", c.At, c.Session, c.RequestID, c.LowestPending, c.Payload)
	case session.Touch:
		return fmt.Sprintf("Touch @%d %s", c.At, strings.Join(c.Sessions, ","))
	case session.Acks:
		var acks []string
		for _, a := range c.Acks {
			acks = append(acks, a.Session+"="+strconv.FormatUint(a.UpTo, 10))
		}
		return fmt.Sprintf("Acks @%d %s", c.At, strings.Join(acks, ","))
	case session.CloseSession:
		return fmt.Sprintf("CloseSession @%d %s", c.At, c.Session)
	case session.Redelivery:
		return fmt.Sprintf("Redelivery @%d", c.At)
	case session.Internal:
		return fmt.Sprintf("Internal @%d %q", c.At, c.Payload)
	case session.LeaderStarted:
		return fmt.Sprintf("LeaderStarted @%d term=%d", c.At, c.Term)
	case session.Batch:
		var parts []string
		for _, e := range c.Commands {
			parts = append(parts, formatCommand(e))
		}
		return "Batch[" + strings.Join(parts, " | ") + "]"
	}
	return fmt.Sprintf("%T", c)
}
