package server

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/zraft/zraft/adapters/zmtp"
	"github.com/zraft/zraft/protocol"
)

// errDown: the connection went down while waiting.
var errDown = errors.New("connection down")

// tconn is a protocol-level test client: a zmtp CLIENT socket and the codec, nothing of
// the real client library.
type tconn struct {
	t  *testing.T
	c  *zmtp.Client
	up string // the endpoint connected to ("" when down)
}

func dial(ctx context.Context, t *testing.T, endpoint string) *tconn {
	t.Helper()
	c, err := zmtp.NewClient(zmtp.WithReconnectBackoff(20*time.Millisecond, 200*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	tc := &tconn{t: t, c: c}
	tc.connect(ctx, endpoint)
	return tc
}

// connect (re)targets the socket and waits until it is up.
func (c *tconn) connect(ctx context.Context, endpoint string) {
	c.t.Helper()
	if c.up == endpoint {
		return
	}
	if err := c.c.Connect(endpoint); err != nil {
		c.t.Fatal(err)
	}
	for {
		ev, err := c.c.Recv(ctx)
		if err != nil {
			c.t.Fatalf("connect %s: %v", endpoint, err)
		}
		switch ev.Kind {
		case zmtp.EventUp:
			c.up = ev.Endpoint
			if ev.Endpoint == endpoint {
				return
			}
		case zmtp.EventDown:
			c.up = ""
		}
	}
}

func (c *tconn) send(ctx context.Context, m protocol.ClientMessage) error {
	b, err := protocol.AppendClientMessage(nil, m)
	if err != nil {
		c.t.Fatalf("encode %T: %v", m, err)
	}
	return c.c.Send(ctx, b)
}

func (c *tconn) sendRaw(ctx context.Context, b []byte) error { return c.c.Send(ctx, b) }

// recv returns the next server message, or errDown when the connection went down.
func (c *tconn) recv(ctx context.Context) (protocol.ServerMessage, error) {
	for {
		ev, err := c.c.Recv(ctx)
		if err != nil {
			return nil, err
		}
		switch ev.Kind {
		case zmtp.EventUp:
			c.up = ev.Endpoint
		case zmtp.EventDown:
			c.up = ""
			return nil, errDown
		case zmtp.EventMessage:
			m, err := protocol.DecodeServerMessage(ev.Data)
			if err != nil {
				c.t.Fatalf("server sent a message that does not decode: %v", err)
			}
			return m, nil
		}
	}
}

// tsession drives one session through the protocol the way a client must: it re-sends
// pending requests after continuing on a new leader, acknowledges server requests and
// drops redelivered ones by their sequence number.
type tsession struct {
	t       *testing.T
	cl      *tcluster
	conn    *tconn
	id      protocol.SessionID
	nonce   protocol.Nonce
	pending map[protocol.RequestID][]byte
	answers map[protocol.RequestID][]byte
	// requests are the server requests in sequence order, each once.
	requests   []protocol.ServerRequest
	duplicates int
	reconnects int
}

// newSession creates a session at the leader (which the caller found by any means).
func newSession(ctx context.Context, t *testing.T, cl *tcluster) *tsession {
	t.Helper()
	s := &tsession{t: t, cl: cl, pending: map[protocol.RequestID][]byte{}, answers: map[protocol.RequestID][]byte{}}
	for {
		leader := cl.leader(ctx)
		if s.conn == nil {
			s.conn = dial(ctx, t, leader.srv.ClientEndpoint())
		} else {
			s.conn.connect(ctx, leader.srv.ClientEndpoint())
		}
		s.nonce++
		if err := s.conn.send(ctx, &protocol.CreateSession{Capabilities: protocol.Capabilities{{Key: "app", Value: "test"}}, Nonce: s.nonce}); err != nil {
			continue
		}
		m, err := s.conn.recv(ctx)
		if errors.Is(err, errDown) {
			continue
		}
		if err != nil {
			t.Fatalf("create session: %v", err)
		}
		switch m := m.(type) {
		case *protocol.SessionCreated:
			if m.Nonce != s.nonce {
				t.Fatalf("SessionCreated nonce %d, want %d", m.Nonce, s.nonce)
			}
			s.id = m.SessionID
			return s
		case *protocol.SessionRejected:
			if m.Reason != protocol.RejectNotLeader {
				t.Fatalf("create session rejected: %v", m.Reason)
			}
		default:
			t.Fatalf("create session: unexpected %T", m)
		}
	}
}

// submit sends a request and remembers it until answered.
func (s *tsession) submit(ctx context.Context, id protocol.RequestID, payload []byte) {
	s.pending[id] = payload
	_ = s.conn.send(ctx, s.request(id, payload)) // a lost send is re-sent on continue
}

func (s *tsession) request(id protocol.RequestID, payload []byte) *protocol.ClientRequest {
	lowest := id
	for p := range s.pending {
		lowest = min(lowest, p)
	}
	return &protocol.ClientRequest{RequestID: id, LowestPendingRequestID: lowest, Payload: payload,
		CreatedAt: protocol.Timestamp(time.Now().UnixMilli())}
}

// step handles one message; on a lost connection or leader it continues the session
// at the leader and re-sends what is pending.
func (s *tsession) step(ctx context.Context) {
	s.t.Helper()
	m, err := s.conn.recv(ctx)
	if errors.Is(err, errDown) {
		s.resume(ctx)
		return
	}
	if err != nil {
		s.t.Fatalf("session %s: %v (pending %d)", shortID(string(s.id)), err, len(s.pending))
	}
	s.handle(ctx, m)
}

func (s *tsession) handle(ctx context.Context, m protocol.ServerMessage) {
	switch m := m.(type) {
	case *protocol.ClientResponse:
		if _, ok := s.answers[m.RequestID]; ok {
			return // answered before (a re-sent request answered twice is legal)
		}
		if _, ok := s.pending[m.RequestID]; !ok {
			s.t.Fatalf("response to request %d never sent", m.RequestID)
		}
		delete(s.pending, m.RequestID)
		s.answers[m.RequestID] = append([]byte(nil), m.Result...)
	case *protocol.ServerRequest:
		next := protocol.RequestID(len(s.requests) + 1)
		switch {
		case m.RequestID < next:
			s.duplicates++
		case m.RequestID == next:
			m.Payload = append([]byte(nil), m.Payload...)
			s.requests = append(s.requests, *m)
		default:
			s.t.Fatalf("server request %d after %d: a gap", m.RequestID, next-1)
		}
		_ = s.conn.send(ctx, &protocol.ServerRequestAck{RequestID: protocol.RequestID(len(s.requests))})
	case *protocol.SessionClosed:
		s.t.Logf("session %s: SessionClosed(%v, leader %q)", shortID(string(s.id)), m.Reason, m.Leader)
		if m.Reason == protocol.CloseSessionExpired || m.Reason == protocol.CloseSessionError {
			s.t.Fatalf("session %s closed: %v", shortID(string(s.id)), m.Reason)
		}
		s.resume(ctx)
	case *protocol.RequestError:
		s.t.Fatalf("request %d: error %v", m.RequestID, m.Reason)
	case *protocol.KeepAliveResponse, *protocol.SessionContinued:
	default:
		s.t.Fatalf("unexpected %T", m)
	}
}

// resume continues the session at the current leader and re-sends pending requests.
func (s *tsession) resume(ctx context.Context) {
	s.t.Helper()
	for {
		leader := s.cl.leader(ctx)
		s.conn.connect(ctx, leader.srv.ClientEndpoint())
		s.nonce++
		if err := s.conn.send(ctx, &protocol.ContinueSession{SessionID: s.id, Nonce: s.nonce}); err != nil {
			continue
		}
	wait:
		m, err := s.conn.recv(ctx)
		if errors.Is(err, errDown) {
			continue
		}
		if err != nil {
			s.t.Fatalf("continue session: %v", err)
		}
		switch r := m.(type) {
		case *protocol.SessionContinued:
			if r.Nonce != s.nonce {
				goto wait
			}
			s.reconnects++
			for id, p := range s.pending {
				_ = s.conn.send(ctx, s.request(id, p))
			}
			return
		case *protocol.SessionRejected:
			if r.Reason != protocol.RejectNotLeader {
				s.t.Fatalf("continue session rejected: %v", r.Reason)
			}
			time.Sleep(50 * time.Millisecond)
		case *protocol.SessionClosed:
			// a goodbye from the connection we just left may still arrive
			goto wait
		default:
			s.handle(ctx, m) // responses and server requests of the old connection
			goto wait
		}
	}
}

// runUntil steps until cond holds.
func (s *tsession) runUntil(ctx context.Context, what string, cond func() bool) {
	s.t.Helper()
	for !cond() {
		if ctx.Err() != nil {
			s.t.Fatalf("waiting for %s: %v", what, ctx.Err())
		}
		s.step(ctx)
	}
}

func (s *tsession) String() string {
	return fmt.Sprintf("session %s: %d pending, %d answered", shortID(string(s.id)), len(s.pending), len(s.answers))
}
