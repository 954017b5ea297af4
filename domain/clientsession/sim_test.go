package clientsession_test

import (
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/zraft/zraft/domain/clientsession"
	"github.com/zraft/zraft/protocol"
)

// TestSimulatedCluster runs the engine against a model cluster that implements the
// server side of semantics.md (leader-only sessions, response cache with K, server
// requests with cumulative acks and redelivery) over connections that drop, leaders that
// move, replies that are duplicated and time that jumps. Then the network heals and the
// run must converge: every command, cancelled ones included, applied exactly once; every
// caller that waits answered once with its own result; every server request delivered
// once, in order.
func TestSimulatedCluster(t *testing.T) {
	for seed := uint64(1); seed <= 300; seed++ {
		if err := runSim(seed, 400); err != nil {
			t.Fatalf("seed %d: %v", seed, err)
		}
	}
}

type simSession struct {
	cache   map[protocol.RequestID][]byte
	highK   protocol.RequestID
	applied map[protocol.RequestID]int
	// unacked server requests, ids from 1
	srv     []protocol.ServerRequest
	nextSrv protocol.RequestID
	// ext is the negotiated extension version (0: plain v1).
	ext uint8
}

type simConn struct {
	id       clientsession.ConnID
	member   int
	up       bool
	session  protocol.SessionID
	toServer [][]byte
	toClient [][]byte
}

type sim struct {
	rng      uint64
	e        *clientsession.Engine
	chk      *checker
	now      int64
	members  []protocol.Member
	leader   int
	sessions map[protocol.SessionID]*simSession
	cur      *simConn
	nonce    protocol.Nonce
	handle   clientsession.Handle
	corr     int
	// want is the result each waiting handle must get.
	want    map[clientsession.Handle]string
	live    []clientsession.Handle
	srvGot  protocol.RequestID
	expired bool
	created int
}

func (s *sim) rand(n int) int {
	s.rng ^= s.rng << 13
	s.rng ^= s.rng >> 7
	s.rng ^= s.rng << 17
	return int(s.rng % uint64(n))
}

func runSim(seed uint64, steps int) error {
	members := []protocol.Member{{ID: "a", Endpoint: "tcp://a:1"}, {ID: "b", Endpoint: "tcp://b:1"}, {ID: "c", Endpoint: "tcp://c:1"}}
	e, err := clientsession.New(clientsession.Config{
		Members: members, Capabilities: protocol.Capabilities{{Key: "app", Value: "sim"}},
		Extensions:        seed%2 == 1,
		KeepAliveInterval: 100, KeepAliveTimeout: 350, ConnectTimeout: 200, ResendInterval: 300,
		BackoffBase: 10, BackoffMax: 80, MaxPending: 64, MaxHeldServerRequests: 4, Seed: seed,
	})
	if err != nil {
		return err
	}
	s := &sim{rng: seed*0x9e3779b97f4a7c15 | 1, e: e, chk: newChecker(e, 4), members: members,
		leader: int(seed % 3), sessions: map[protocol.SessionID]*simSession{}, want: map[clientsession.Handle]string{}}
	if err := s.tick(0); err != nil {
		return err
	}
	for i := 0; i < steps && !s.expired; i++ {
		if err := s.chaos(); err != nil {
			return fmt.Errorf("step %d: %w", i, err)
		}
	}
	if s.expired {
		return nil // the checker verified that every caller heard ErrSessionExpired
	}
	// Heal: a stable leader, no drops; everything must settle.
	for i := 0; i < 2000; i++ {
		if err := s.calm(); err != nil {
			return fmt.Errorf("calm %d: %w", i, err)
		}
		if s.expired {
			return nil // an expiry queued before the network healed
		}
		if s.settled() {
			return s.verify()
		}
	}
	return fmt.Errorf("did not settle: %+v, live %v, server requests delivered %d", s.e.Status(), s.live, s.srvGot)
}

func (s *sim) settled() bool {
	st := s.e.Status()
	sess := s.sessions[st.SessionID]
	return st.State == clientsession.StateConnected && st.Pending == 0 && st.Queries == 0 &&
		sess != nil && s.srvGot == sess.nextSrv-1 && len(sess.srv) == 0
}

func (s *sim) verify() error {
	if len(s.live) > 0 {
		return fmt.Errorf("callers never answered: %v", s.live)
	}
	st := s.e.Status()
	sess := s.sessions[st.SessionID]
	if sess == nil {
		return fmt.Errorf("session %q unknown to the cluster", st.SessionID)
	}
	for id := protocol.RequestID(1); id < st.NextRequestID; id++ {
		if sess.applied[id] != 1 {
			return fmt.Errorf("command %d applied %d times", id, sess.applied[id])
		}
	}
	return nil
}

func (s *sim) step(in clientsession.Input) error {
	s.chk.before()
	out, err := s.e.Step(s.now, in)
	if err != nil {
		return fmt.Errorf("%#v refused: %w", in, err)
	}
	s.chk.input(in)
	if err := s.chk.outputs(out); err != nil {
		return err
	}
	return s.outputs(out)
}

func (s *sim) tick(dt int64) error {
	s.now += dt
	s.chk.before()
	out := s.e.Tick(s.now)
	if err := s.chk.outputs(out); err != nil {
		return err
	}
	return s.outputs(out)
}

func (s *sim) outputs(out []clientsession.Output) error {
	for _, o := range out {
		switch o := o.(type) {
		case clientsession.Connect:
			s.cur = &simConn{id: o.Conn, member: slices.IndexFunc(s.members, func(m protocol.Member) bool { return m.ID == o.Member })}
		case clientsession.Disconnect:
			if s.cur != nil && s.cur.id == o.Conn {
				s.cur = nil
			}
		case clientsession.Send:
			if s.cur == nil || s.cur.id != o.Conn {
				return fmt.Errorf("send on connection %d, current %v", o.Conn, s.cur)
			}
			s.cur.toServer = append(s.cur.toServer, o.Bytes)
		case clientsession.Deliver:
			want, ok := s.want[o.Handle]
			if !ok {
				return fmt.Errorf("delivery to handle %d nobody waits for", o.Handle)
			}
			delete(s.want, o.Handle)
			s.live = slices.DeleteFunc(s.live, func(h clientsession.Handle) bool { return h == o.Handle })
			switch {
			case errors.Is(o.Err, clientsession.ErrSessionExpired):
				s.expired = true
			case o.Err != nil:
				return fmt.Errorf("handle %d failed: %v", o.Handle, o.Err)
			case string(o.Result) != want:
				return fmt.Errorf("handle %d got %q, want %q", o.Handle, o.Result, want)
			}
		case clientsession.DeliverServerRequest:
			if want := fmt.Sprintf("work-%d", o.ID); string(o.Payload) != want {
				return fmt.Errorf("server request %d carries %q", o.ID, o.Payload)
			}
			s.srvGot = o.ID
		case clientsession.Event:
			if o.Kind == clientsession.EventSessionExpired {
				s.expired = true
			}
		}
	}
	return nil
}

// toClient queues a server message on the current connection.
func (s *sim) reply(c *simConn, m protocol.ServerMessage) {
	b, err := protocol.AppendServerMessage(nil, m)
	if err != nil {
		panic(err)
	}
	c.toClient = append(c.toClient, b)
}

func (s *sim) hint() (protocol.MemberID, bool) {
	if s.rand(4) == 0 {
		return "", false
	}
	return s.members[s.leader].ID, true
}

// serve handles one client message at the server end of c.
func (s *sim) serve(c *simConn, b []byte) error {
	m, err := protocol.DecodeClientMessage(b)
	if err != nil {
		return fmt.Errorf("client sent undecodable bytes: %v", err)
	}
	leader := c.member == s.leader
	switch m := m.(type) {
	case *protocol.CreateSession:
		if !leader {
			h, ok := s.hint()
			s.reply(c, &protocol.SessionRejected{Reason: protocol.RejectNotLeader, Nonce: m.Nonce, Leader: h, HasLeader: ok})
			return nil
		}
		s.created++
		id := protocol.SessionID(fmt.Sprintf("s%d", s.created))
		v := protocol.NegotiateExtensions(m.Capabilities, protocol.ExtensionVersion)
		s.sessions[id] = &simSession{cache: map[protocol.RequestID][]byte{}, applied: map[protocol.RequestID]int{}, nextSrv: 1, ext: v}
		c.session = id
		s.reply(c, &protocol.SessionCreated{SessionID: id, Nonce: m.Nonce, Ext: confirm(v)})
		return nil
	case *protocol.ContinueSession:
		if !leader {
			h, ok := s.hint()
			s.reply(c, &protocol.SessionRejected{Reason: protocol.RejectNotLeader, Nonce: m.Nonce, Leader: h, HasLeader: ok})
			return nil
		}
		sess := s.sessions[m.SessionID]
		if sess == nil {
			s.reply(c, &protocol.SessionRejected{Reason: protocol.RejectSessionExpired, Nonce: m.Nonce})
			return nil
		}
		c.session = m.SessionID
		s.reply(c, &protocol.SessionContinued{Nonce: m.Nonce, Ext: confirm(sess.ext)})
		for i := range sess.srv {
			s.reply(c, &sess.srv[i])
		}
		return nil
	}
	sess := s.sessions[c.session]
	if c.session == "" || sess == nil {
		return nil // sent before the client learnt that the connection lost its session
	}
	if m.Extensions() != nil && sess.ext == 0 {
		return fmt.Errorf("%T with an extension block on a session without extensions", m)
	}
	if !leader {
		h, ok := s.hint()
		s.reply(c, &protocol.SessionClosed{Reason: protocol.CloseNotLeaderAnymore, Leader: h, HasLeader: ok})
		c.session = ""
		return nil
	}
	switch m := m.(type) {
	case *protocol.ClientRequest:
		if r, ok := sess.cache[m.RequestID]; ok {
			s.reply(c, &protocol.ClientResponse{RequestID: m.RequestID, Result: r})
			return nil
		}
		if m.RequestID < sess.highK {
			s.reply(c, &protocol.RequestError{RequestID: m.RequestID, Reason: protocol.ErrorResponseEvicted})
			return nil
		}
		sess.applied[m.RequestID]++
		if sess.applied[m.RequestID] > 1 {
			return fmt.Errorf("command %d applied twice", m.RequestID)
		}
		r := append([]byte("r:"), m.Payload...)
		sess.cache[m.RequestID] = r
		sess.highK = max(sess.highK, m.LowestPendingRequestID)
		for id := range sess.cache {
			if id < sess.highK {
				delete(sess.cache, id)
			}
		}
		s.reply(c, &protocol.ClientResponse{RequestID: m.RequestID, Result: r})
	case *protocol.Query:
		s.reply(c, &protocol.QueryResponse{CorrelationID: m.CorrelationID, Result: append([]byte("q:"), m.Payload...)})
	case *protocol.KeepAlive:
		s.reply(c, &protocol.KeepAliveResponse{Timestamp: m.Timestamp})
	case *protocol.ServerRequestAck:
		sess.srv = slices.DeleteFunc(sess.srv, func(r protocol.ServerRequest) bool { return r.RequestID <= m.RequestID })
	case *protocol.CloseSession:
		delete(s.sessions, c.session)
	}
	return nil
}

func confirm(v uint8) *protocol.Extensions {
	if v == 0 {
		return nil
	}
	return &protocol.Extensions{Version: v}
}

// deliverOne moves the oldest server message of the connection to the engine, sometimes
// twice (a duplicate on the wire).
func (s *sim) deliverOne(dup bool) error {
	c := s.cur
	if c == nil || !c.up || len(c.toClient) == 0 {
		return nil
	}
	b := c.toClient[0]
	if !dup {
		c.toClient = c.toClient[1:]
	}
	return s.step(clientsession.Received{Conn: c.id, Bytes: b})
}

func (s *sim) serveOne() error {
	c := s.cur
	if c == nil || !c.up || len(c.toServer) == 0 {
		return nil
	}
	b := c.toServer[0]
	c.toServer = c.toServer[1:]
	return s.serve(c, b)
}

func (s *sim) up() error {
	if s.cur == nil || s.cur.up {
		return nil
	}
	s.cur.up = true
	s.nonce++
	return s.step(clientsession.ConnectionUp{Conn: s.cur.id, Nonce: s.nonce})
}

func (s *sim) serverRequest() {
	c := s.cur
	if c == nil || s.sessions[c.session] == nil {
		return
	}
	sess := s.sessions[c.session]
	r := protocol.ServerRequest{RequestID: sess.nextSrv, Payload: fmt.Appendf(nil, "work-%d", sess.nextSrv)}
	sess.nextSrv++
	sess.srv = append(sess.srv, r)
	if c.member == s.leader && c.up {
		s.reply(c, &r)
	}
}

func (s *sim) chaos() error {
	switch k := s.rand(100); {
	case k < 15:
		return s.up()
	case k < 40:
		return s.serveOne()
	case k < 60:
		return s.deliverOne(s.rand(10) == 0)
	case k < 70:
		return s.tick(int64(s.rand(120)))
	case k < 78:
		s.handle++
		p := fmt.Sprintf("cmd-%d", s.handle)
		s.want[s.handle] = "r:" + p
		s.live = append(s.live, s.handle)
		return s.step(clientsession.Submit{Handle: s.handle, Payload: []byte(p), TraceParent: "00-sim-01"})
	case k < 82:
		s.handle++
		s.corr++
		p := fmt.Sprintf("get-%d", s.handle)
		s.want[s.handle] = "q:" + p
		s.live = append(s.live, s.handle)
		return s.step(clientsession.Query{Handle: s.handle, Payload: []byte(p), CorrelationID: protocol.CorrelationID(fmt.Sprint("c", s.corr))})
	case k < 85:
		if len(s.live) == 0 {
			return nil
		}
		h := s.live[s.rand(len(s.live))]
		s.live = slices.DeleteFunc(s.live, func(x clientsession.Handle) bool { return x == h })
		delete(s.want, h)
		return s.step(clientsession.CancelRequest{Handle: h})
	case k < 88:
		if s.cur != nil && s.cur.up {
			return s.step(clientsession.ConnectionDown{Conn: s.cur.id})
		}
	case k < 90:
		s.leader = s.rand(len(s.members))
	case k < 95:
		s.serverRequest()
	case k < 97:
		// Redelivery of unacknowledged server requests.
		if c := s.cur; c != nil && c.up && s.sessions[c.session] != nil && c.member == s.leader {
			for _, r := range s.sessions[c.session].srv {
				s.reply(c, &r)
			}
		}
	case k < 98:
		// The connection stalls: nothing more arrives on it.
		if s.cur != nil {
			s.cur.toClient = nil
		}
	default:
		if s.rand(20) == 0 && s.cur != nil && s.cur.session != "" {
			delete(s.sessions, s.cur.session)
			s.cur.session = ""
			s.reply(s.cur, &protocol.SessionClosed{Reason: protocol.CloseSessionExpired})
		}
	}
	return nil
}

// calm: a working network and a stable leader.
func (s *sim) calm() error {
	if err := s.up(); err != nil {
		return err
	}
	for s.cur != nil && s.cur.up && (len(s.cur.toServer) > 0 || len(s.cur.toClient) > 0) {
		if err := s.serveOne(); err != nil {
			return err
		}
		if err := s.deliverOne(false); err != nil {
			return err
		}
	}
	if c := s.cur; c != nil && c.up && s.sessions[c.session] != nil && c.member == s.leader {
		for _, r := range s.sessions[c.session].srv {
			s.reply(c, &r)
		}
	}
	return s.tick(50)
}
