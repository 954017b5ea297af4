package testserver

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/zraft/zraft/adapters/zmtp"
	"github.com/zraft/zraft/protocol"
)

// Config configures a Cluster.
type Config struct {
	// Members is the number of members (default 1). Their ids are node-1, node-2, …
	Members int
	// Extensions makes the members confirm zraft's extensions to clients that declare
	// them; false behaves like a zio-raft server (plain v1 only).
	Extensions bool
	// SessionTimeout expires sessions silent for this long (0: never by time).
	SessionTimeout time.Duration
	// Redelivery re-sends unacknowledged server requests this often (default 100 ms).
	Redelivery time.Duration
	// MaxCachedResponses bounds each session's response cache (default 1000).
	MaxCachedResponses int
	// App is the application (default: a key-value store, see NewKV).
	App App
	// RejectSessions makes the leader refuse every CreateSession with
	// InvalidCapabilities, as an application that refuses the client would.
	RejectSessions bool
}

// App is the application the cluster applies commands to. It is called with the
// cluster's lock held, in apply order.
type App interface {
	// Apply runs a command of session and returns its result; push addresses server
	// requests to sessions.
	Apply(session string, payload []byte, push func(session string, payload []byte)) []byte
	// Query answers a read.
	Query(session string, payload []byte) []byte
	// SessionEnded tells that a session expired or was closed.
	SessionEnded(session string)
}

// Cluster is a set of test members sharing one replicated state.
type Cluster struct {
	cfg Config

	mu       sync.Mutex
	members  []*Member
	leader   int // index, -1 when none
	sessions map[string]*session
	// applied counts how often each (session, request id) ran in the application.
	applied map[string]map[protocol.RequestID]int
	// violations lists extension blocks received where none was allowed.
	violations []string
	// queries records the consistency level of every query received (0: none asked).
	queries []protocol.Consistency
	// traces records the traceparent of every command and query received ("" if none).
	traces []string
	// dropReplies makes the leader apply commands but not answer them.
	dropReplies bool

	stop chan struct{}
	wg   sync.WaitGroup
}

type session struct {
	id        string
	ext       uint8
	lastSeen  time.Time
	responses map[protocol.RequestID][]byte
	order     []protocol.RequestID // cached ids, oldest first
	highestK  protocol.RequestID
	nextSrv   protocol.RequestID
	pending   []protocol.ServerRequest // unacknowledged, in order
	owner     *Member
	ownerConn zmtp.RoutingID
}

// Start starts a cluster whose first member leads.
func Start(cfg Config) (*Cluster, error) {
	if cfg.Members == 0 {
		cfg.Members = 1
	}
	if cfg.Redelivery == 0 {
		cfg.Redelivery = 100 * time.Millisecond
	}
	if cfg.MaxCachedResponses == 0 {
		cfg.MaxCachedResponses = 1000
	}
	if cfg.App == nil {
		cfg.App = NewKV()
	}
	c := &Cluster{cfg: cfg, sessions: map[string]*session{}, applied: map[string]map[protocol.RequestID]int{},
		stop: make(chan struct{})}
	for i := range cfg.Members {
		c.members = append(c.members, &Member{c: c, idx: i, id: protocol.MemberID(fmt.Sprintf("node-%d", i+1))})
	}
	for _, m := range c.members { // started once the list is complete: they read it
		if err := m.start("tcp://127.0.0.1:0"); err != nil {
			c.Close()
			return nil, err
		}
	}
	c.wg.Add(1)
	go c.ticker()
	return c, nil
}

// Close stops every member and the cluster's timers.
func (c *Cluster) Close() {
	select {
	case <-c.stop:
	default:
		close(c.stop)
	}
	for _, m := range c.members {
		m.Kill()
	}
	c.wg.Wait()
}

// Endpoints returns the members as "node-1=tcp://…,node-2=…", in member order.
func (c *Cluster) Endpoints() string {
	s := ""
	for i, m := range c.members {
		if i > 0 {
			s += ","
		}
		s += string(m.id) + "=" + m.addr
	}
	return s
}

// Member returns member i (0-based).
func (c *Cluster) Member(i int) *Member { return c.members[i] }

// Leader returns the leader's index, or -1.
func (c *Cluster) Leader() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.leader
}

// SetLeader makes member i the leader (-1: none). The old leader steps down as zraft's
// gateway does: SessionClosed(NotLeaderAnymore, hint) to every session it carried.
func (c *Cluster) SetLeader(i int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	old := c.leader
	c.leader = i
	if old < 0 || old == i {
		return
	}
	om := c.members[old]
	for _, s := range c.sessions {
		if s.owner == om {
			om.send(s.ownerConn, &protocol.SessionClosed{Reason: protocol.CloseNotLeaderAnymore,
				Leader: c.leaderID(), HasLeader: i >= 0, Ext: c.membersExt(s.ext)})
			s.owner = nil
		}
	}
}

// DropReplies makes the leader apply commands without answering them (a lost reply).
func (c *Cluster) DropReplies(on bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.dropReplies = on
}

// Applied returns how many times the command (session, id) ran in the application.
func (c *Cluster) Applied(session string, id int64) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.applied[session][protocol.RequestID(id)]
}

// AppliedIDs returns how many distinct commands of session ran, and the highest count
// of any one of them (1 when exactly once).
func (c *Cluster) AppliedIDs(session string) (distinct, maxRuns int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, n := range c.applied[session] {
		distinct++
		maxRuns = max(maxRuns, n)
	}
	return distinct, maxRuns
}

// Violations returns the extension blocks the members received where none was allowed.
func (c *Cluster) Violations() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.violations...)
}

// Queries returns the consistency level of every query received, in order.
func (c *Cluster) Queries() []protocol.Consistency {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]protocol.Consistency(nil), c.queries...)
}

// TraceParents returns the traceparent of every command and query received, in order
// ("" when one carried none).
func (c *Cluster) TraceParents() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.traces...)
}

// Sessions returns the ids of the live sessions, sorted.
func (c *Cluster) Sessions() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	ids := make([]string, 0, len(c.sessions))
	for id := range c.sessions {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}

// Expire expires a session now, as the replicated state machine would: its connection
// gets SessionClosed(SessionExpired) and it can never be continued.
func (c *Cluster) Expire(id string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	s, ok := c.sessions[id]
	if !ok {
		return false
	}
	c.endSession(s, true)
	return true
}

// Push addresses a server request to a session (false if it does not exist).
func (c *Cluster) Push(id string, payload []byte) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.push(id, payload)
}

// PushTraced is Push with a W3C traceparent in the request's extension block, sent only
// if the session negotiated extensions (false if the session does not exist).
func (c *Cluster) PushTraced(id string, payload []byte, traceparent string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if s, ok := c.sessions[id]; ok && s.ext > 0 {
		return c.pushExt(id, payload, &protocol.Extensions{TraceParent: traceparent})
	}
	return c.push(id, payload)
}

// Unacknowledged returns how many server requests of the session wait for an ack.
func (c *Cluster) Unacknowledged(id string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	if s, ok := c.sessions[id]; ok {
		return len(s.pending)
	}
	return 0
}

func (c *Cluster) push(id string, payload []byte) bool { return c.pushExt(id, payload, nil) }

func (c *Cluster) pushExt(id string, payload []byte, ext *protocol.Extensions) bool {
	s, ok := c.sessions[id]
	if !ok {
		return false
	}
	s.nextSrv++
	r := protocol.ServerRequest{RequestID: s.nextSrv, Payload: append([]byte{}, payload...),
		CreatedAt: protocol.Timestamp(time.Now().UnixMilli()), Ext: ext}
	s.pending = append(s.pending, r)
	if s.owner != nil {
		s.owner.send(s.ownerConn, &r)
	}
	return true
}

func (c *Cluster) endSession(s *session, expired bool) {
	if s.owner != nil && expired {
		s.owner.send(s.ownerConn, &protocol.SessionClosed{Reason: protocol.CloseSessionExpired})
	}
	delete(c.sessions, s.id)
	c.cfg.App.SessionEnded(s.id)
}

func (c *Cluster) leaderID() protocol.MemberID {
	if c.leader < 0 {
		return ""
	}
	return c.members[c.leader].id
}

func (c *Cluster) membersExt(ext uint8) *protocol.Extensions {
	if ext == 0 {
		return nil
	}
	e := &protocol.Extensions{}
	for _, m := range c.members {
		e.Members = append(e.Members, protocol.Member{ID: m.id, Endpoint: m.addr})
	}
	return e
}

// ticker expires silent sessions and redelivers unacknowledged server requests.
func (c *Cluster) ticker() {
	defer c.wg.Done()
	t := time.NewTicker(c.cfg.Redelivery)
	defer t.Stop()
	for {
		select {
		case <-c.stop:
			return
		case <-t.C:
		}
		c.mu.Lock()
		for _, s := range c.sessions {
			if c.cfg.SessionTimeout > 0 && c.leader >= 0 && time.Since(s.lastSeen) > c.cfg.SessionTimeout {
				c.endSession(s, true)
				continue
			}
			if s.owner != nil {
				for i := range s.pending {
					s.owner.send(s.ownerConn, &s.pending[i])
				}
			}
		}
		c.mu.Unlock()
	}
}

func newSessionID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// Member is one test member: a ZeroMQ SERVER socket and the goroutine serving it.
type Member struct {
	c    *Cluster
	idx  int
	id   protocol.MemberID
	addr string

	srv  *zmtp.Server // guarded by c.mu
	done chan struct{}
}

// ID returns the member's id (node-1, …).
func (m *Member) ID() string { return string(m.id) }

// Endpoint returns the member's endpoint (tcp://127.0.0.1:port).
func (m *Member) Endpoint() string { return m.addr }

func (m *Member) start(endpoint string) error {
	var srv *zmtp.Server
	var err error
	// A restarted member takes its old port back; the kernel may hold it for a moment.
	for range 50 {
		srv, err = zmtp.Listen(context.Background(), endpoint)
		if err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		return err
	}
	m.c.mu.Lock()
	m.srv, m.addr, m.done = srv, srv.Addr(), make(chan struct{})
	m.c.mu.Unlock()
	go m.serve(srv, m.done)
	return nil
}

// Kill stops the member: every connection drops. Sessions live on in the shared state.
func (m *Member) Kill() {
	m.c.mu.Lock()
	srv, done := m.srv, m.done
	m.srv = nil
	for _, s := range m.c.sessions {
		if s.owner == m {
			s.owner = nil
		}
	}
	m.c.mu.Unlock()
	if srv == nil {
		return
	}
	_ = srv.Close()
	<-done
}

// Restart starts a killed member again on the same endpoint.
func (m *Member) Restart() error {
	m.c.mu.Lock()
	running := m.srv != nil
	m.c.mu.Unlock()
	if running {
		return nil
	}
	return m.start(m.addr)
}

func (m *Member) send(id zmtp.RoutingID, msg protocol.ServerMessage) {
	if m.srv == nil {
		return
	}
	b, err := protocol.AppendServerMessage(nil, msg)
	if err != nil {
		panic(fmt.Sprintf("testserver: encoding %T: %v", msg, err))
	}
	_ = m.srv.Send(id, b)
}

func (m *Member) serve(srv *zmtp.Server, done chan struct{}) {
	defer close(done)
	owned := map[zmtp.RoutingID]string{} // connection -> session it carries
	for {
		ev, err := srv.Recv(context.Background())
		if err != nil {
			return
		}
		m.c.mu.Lock()
		if m.srv == srv { // not killed meanwhile
			switch ev.Kind {
			case zmtp.EventMessage:
				m.handle(owned, ev.RoutingID, ev.Data)
			case zmtp.EventClosed:
				m.dropConn(owned, ev.RoutingID)
			}
		}
		m.c.mu.Unlock()
	}
}
