package gateway

import (
	"fmt"
	"slices"

	"github.com/zraft/zraft/domain/session"
	"github.com/zraft/zraft/protocol"
)

// Gateway is the leader-local engine for client connections. Create it with New; it is
// not safe for concurrent use (its caller serialises Step, Tick and Ready).
//
// Invariants, checked by the tests after every input: a connection owns at most one
// session and a session is owned by at most one connection; outputs go only to
// connections that sent a message and were not closed since.
type Gateway struct {
	cfg Config
	dec protocol.Decoder
	now int64

	leader    bool
	term      uint64
	leaderID  protocol.MemberID
	hasLeader bool
	members   []protocol.Member

	conns     map[RoutingID]*conn
	owners    map[string]RoutingID // session → connection that owns it
	creations map[string]creation  // new session id → who asked
	requests  map[requestKey]struct{}
	closes    map[string]struct{} // sessions whose CloseSession is in flight
	reads     map[uint64]*pendingRead
	inflight  map[string]int // requests and reads in flight per session
	nextRead  uint64

	touched        map[string]struct{} // sessions with activity since the last flush
	acks           map[string]uint64   // highest acknowledgement per session since the last flush
	retry          []session.Command   // failed proposals to propose again at the next Tick
	retryReads     []uint64
	nextFlush      int64
	nextRedelivery int64

	out   []Output
	stats Stats

	// last is what the latest Step decoded (see LastMessage); reset by every Step.
	last received
}

// received is a message the gateway decoded, with the session its connection owned
// when it arrived.
type received struct {
	msg     protocol.ClientMessage
	session string
}

type conn struct {
	id       RoutingID
	session  string // the session this connection owns, "" for none
	creating string // the session id of a CreateSession in flight, "" for none
	ext      uint8  // negotiated extension version of session or creating, 0 for none
	closing  bool   // a Close was output; waiting for ConnectionClosed
}

type creation struct {
	rid   RoutingID
	nonce protocol.Nonce
	ext   uint8
}

type requestKey struct {
	session string
	id      uint64
}

type pendingRead struct {
	session     string
	correlation protocol.CorrelationID
	payload     []byte
	consistency protocol.Consistency
}

// New returns a Gateway that is not the leader until a LeadershipChanged input says so.
func New(cfg Config) (*Gateway, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	g := &Gateway{
		cfg:    cfg,
		dec:    protocol.Decoder{MaxMessageSize: cfg.MaxMessageSize},
		conns:  make(map[RoutingID]*conn),
		owners: make(map[string]RoutingID),
	}
	g.resetLeaderState()
	return g, nil
}

func (g *Gateway) resetLeaderState() {
	for _, c := range g.conns {
		c.session, c.creating, c.ext = "", "", 0
	}
	clear(g.owners)
	g.creations = make(map[string]creation)
	g.requests = make(map[requestKey]struct{})
	g.closes = make(map[string]struct{})
	g.reads = make(map[uint64]*pendingRead)
	g.inflight = make(map[string]int)
	g.touched = make(map[string]struct{})
	g.acks = make(map[string]uint64)
	g.retry, g.retryReads = nil, nil
}

// Step applies one input at time now (milliseconds since the Unix epoch; time never goes
// backwards inside the gateway). Errors report misuse (see ErrUnknownInput,
// ErrNoSessionID, ErrNoCommand); the input's other effects still take place.
func (g *Gateway) Step(now int64, in Input) error {
	g.advance(now)
	g.last = received{}
	switch in := in.(type) {
	case Message:
		return g.message(in)
	case ConnectionClosed:
		g.disconnected(in.RoutingID)
	case Applied:
		if in.Command == nil {
			return fmt.Errorf("%w: Applied at index %d", ErrNoCommand, in.Result.Index)
		}
		g.applied(in.Command, in.Result)
	case ProposalFailed:
		if in.Command == nil {
			return fmt.Errorf("%w: ProposalFailed", ErrNoCommand)
		}
		g.stats.ProposalsFailed++
		g.proposalFailed(in.Command)
	case ReadDone:
		g.readDone(in.ID, in.Outcome)
	case ReadFailed:
		g.stats.ReadsFailed++
		if _, ok := g.reads[in.ID]; ok {
			g.retryReads = append(g.retryReads, in.ID)
		}
	case LeadershipChanged:
		g.leadership(in)
	default:
		return fmt.Errorf("%w: %T", ErrUnknownInput, in)
	}
	return nil
}

// Tick tells the gateway that time is now. While it leads, it proposes the batched
// activity and acknowledgements every FlushInterval, a Redelivery every
// RedeliveryInterval (together in one entry when both are due), and again what failed.
func (g *Gateway) Tick(now int64) {
	g.advance(now)
	if !g.leader {
		return
	}
	for _, cmd := range g.retry {
		if g.waiting(cmd) {
			g.propose(restamp(cmd, g.now))
		}
	}
	g.retry = nil
	for _, id := range g.retryReads {
		if r := g.reads[id]; r != nil {
			g.emitRead(id, r)
		}
	}
	g.retryReads = nil

	var batch []session.Command
	if g.now >= g.nextFlush {
		g.nextFlush = g.now + g.cfg.FlushInterval
		batch = g.flush(batch)
	}
	if g.now >= g.nextRedelivery {
		g.nextRedelivery = g.now + g.cfg.RedeliveryInterval
		if g.cfg.View.Len() > 0 {
			batch = append(batch, session.Redelivery{At: g.now})
		}
	}
	switch len(batch) {
	case 0:
	case 1:
		g.propose(batch[0])
	default:
		g.propose(session.Batch{Commands: batch})
	}
}

// flush appends the Acks and Touch commands for the activity gathered since the last
// flush. A session with an acknowledgement is left out of Touch: applying Acks touches it.
func (g *Gateway) flush(batch []session.Command) []session.Command {
	if len(g.acks) > 0 {
		acks := session.Acks{At: g.now, Acks: make([]session.Ack, 0, len(g.acks))}
		for _, s := range sortedKeys(g.acks) {
			acks.Acks = append(acks.Acks, session.Ack{Session: s, UpTo: g.acks[s]})
			delete(g.touched, s)
		}
		clear(g.acks)
		batch = append(batch, acks)
	}
	if len(g.touched) > 0 {
		batch = append(batch, session.Touch{At: g.now, Sessions: sortedKeys(g.touched)})
		clear(g.touched)
	}
	return batch
}

// Ready returns the outputs produced since the last call, in order, and hands them over.
func (g *Gateway) Ready() []Output {
	out := g.out
	g.out = nil
	return out
}

// Stats returns the counters and the current sizes of the gateway's state.
func (g *Gateway) Stats() Stats {
	s := g.stats
	s.Connections, s.Sessions, s.Creations = len(g.conns), len(g.owners), len(g.creations)
	s.Requests, s.Reads = len(g.requests), len(g.reads)
	return s
}

// LastMessage returns the client message the latest Step decoded, when that input was a
// Message that decoded and passed the gateway's checks (nil otherwise; also nil for a
// message from a connection the gateway is closing), and the session the connection
// owned when it arrived ("" for none, e.g. on a member that does not lead). It lets the
// shell read what the gateway does not act on, the trace context in a command's or
// query's extension block, without decoding the frame again. The message is the
// gateway's: read it, do not modify it. It is valid until the next Step.
func (g *Gateway) LastMessage() (protocol.ClientMessage, string) {
	return g.last.msg, g.last.session
}

// IsLeader reports whether the gateway currently acts as the leader.
func (g *Gateway) IsLeader() bool { return g.leader }

// Owner returns the connection that owns session, if any.
func (g *Gateway) Owner(session string) (RoutingID, bool) {
	rid, ok := g.owners[session]
	return rid, ok
}

// SessionOf returns the session the connection owns, if any.
func (g *Gateway) SessionOf(rid RoutingID) (string, bool) {
	c := g.conns[rid]
	if c == nil || c.session == "" {
		return "", false
	}
	return c.session, true
}

func (g *Gateway) advance(now int64) {
	if now > g.now {
		g.now = now
	}
}

// leadership handles a role change. Losing the lead, or leading a new term (the events
// may coalesce a loss and a re-election), ends every binding: the clients continue their
// sessions with whoever leads, which rebuilds the leader-local state from the log.
func (g *Gateway) leadership(l LeadershipChanged) {
	g.leaderID, g.hasLeader = l.Leader, l.Leader != ""
	g.members = slices.Clone(l.Members)
	if g.leader && (!l.IsLeader || l.Term != g.term) {
		g.stepDown()
	}
	if l.IsLeader && (!g.leader || l.Term != g.term) {
		g.nextFlush = g.now + g.cfg.FlushInterval
		g.nextRedelivery = g.now + g.cfg.RedeliveryInterval
	}
	g.leader, g.term = l.IsLeader, l.Term
}

func (g *Gateway) stepDown() {
	for _, rid := range sortedKeys(g.conns) {
		c := g.conns[rid]
		switch {
		case c.session != "":
			g.send(c, &protocol.SessionClosed{Reason: protocol.CloseNotLeaderAnymore, Leader: g.leaderID,
				HasLeader: g.hasLeader, Ext: g.ext(c.ext, false)})
		case c.creating != "":
			cr := g.creations[c.creating]
			g.send(c, &protocol.SessionRejected{Reason: protocol.RejectNotLeader, Nonce: cr.nonce, Leader: g.leaderID,
				HasLeader: g.hasLeader, Ext: g.ext(c.ext, false)})
		}
	}
	g.resetLeaderState()
}

// propose stamps nothing: commands carry the gateway's now already.
func (g *Gateway) propose(cmd session.Command) { g.out = append(g.out, Propose{Command: cmd}) }

func (g *Gateway) send(c *conn, m protocol.ServerMessage) {
	g.out = append(g.out, Send{RoutingID: c.id, Message: m})
}

func (g *Gateway) emitRead(id uint64, r *pendingRead) {
	g.out = append(g.out, Read{ID: id, Session: r.session, Payload: r.payload, Consistency: r.consistency})
}

// closeConn disconnects c. Its session, if any, stays alive in the replicated state.
func (g *Gateway) closeConn(c *conn, reason CloseReason) {
	g.release(c)
	c.closing = true
	g.out = append(g.out, Close{RoutingID: c.id, Reason: reason})
}

// release ends c's binding to a session and abandons its creation in flight (the
// creation's outcome then finds no one waiting).
func (g *Gateway) release(c *conn) {
	if c.session != "" {
		delete(g.owners, c.session)
	}
	c.session, c.creating, c.ext = "", "", 0
}

func (g *Gateway) bind(c *conn, session string, ext uint8) {
	g.release(c)
	c.session, c.ext = session, ext
	g.owners[session] = c.id
}

// admit counts a new request or read of session, or refuses it when the session already
// has MaxInFlight of them: the client is told (RequestError(Overloaded) where it
// negotiated extensions) or, when v1 has no way to say it, its connection is closed, so
// that nothing is dropped silently and a flooding client cannot grow the leader's memory.
func (g *Gateway) admit(c *conn, request protocol.RequestID, isRequest bool) bool {
	if g.inflight[c.session] < g.cfg.MaxInFlight {
		g.inflight[c.session]++
		return true
	}
	g.stats.Overloaded++
	if isRequest && c.ext > 0 {
		g.send(c, &protocol.RequestError{RequestID: request, Reason: protocol.ErrorOverloaded})
		return false
	}
	g.closeConn(c, CloseOverloaded)
	return false
}

// settled counts down a request or read of session that got its outcome.
func (g *Gateway) settled(session string) {
	if n := g.inflight[session]; n > 1 {
		g.inflight[session] = n - 1
	} else {
		delete(g.inflight, session)
	}
}

// owner returns the live connection owning session, or nil.
func (g *Gateway) owner(session string) *conn {
	rid, ok := g.owners[session]
	if !ok {
		return nil
	}
	return g.conns[rid]
}

// ext returns the extension block for a reply on a connection that negotiated version v
// (nil for 0): the members map, and the version itself on confirmations.
func (g *Gateway) ext(v uint8, confirm bool) *protocol.Extensions {
	if v == 0 {
		return nil
	}
	e := &protocol.Extensions{Members: g.members}
	if confirm {
		e.Version = v
	}
	if e.IsZero() {
		return nil
	}
	return e
}

func (g *Gateway) negotiate(caps protocol.Capabilities) uint8 {
	if g.cfg.DisableExtensions {
		return 0
	}
	return protocol.NegotiateExtensions(caps, protocol.ExtensionVersion)
}

func (g *Gateway) negotiateSession(info session.Info) uint8 {
	caps := make(protocol.Capabilities, len(info.Capabilities))
	for i, c := range info.Capabilities {
		caps[i] = protocol.Capability{Key: c.Key, Value: c.Value}
	}
	return g.negotiate(caps)
}

func sortedKeys[K interface{ ~string | ~uint64 }, V any](m map[K]V) []K {
	keys := make([]K, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
