package zmtp

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// Server is a ZeroMQ SERVER socket: it accepts only CLIENT peers, gives each connection
// a RoutingID, and never lets one peer hold up another or the caller of Send.
type Server struct {
	cfg    *config
	ln     net.Listener
	events chan Event
	nextID atomic.Uint64
	conns  atomic.Int64 // handshaking and established

	ctx    context.Context // cancelled by Close
	cancel context.CancelFunc

	mu     sync.Mutex
	peers  map[RoutingID]*link
	closed bool

	// poller serves idle established connections (server_poll.go); nil in
	// goroutine-per-connection mode. sweepWake wakes its sweeper early.
	poller    *poller
	sweepWake chan struct{}

	closeOnce sync.Once
	wg        sync.WaitGroup
}

// Listen binds endpoint (tcp://host:port; port 0 picks a free port, see Addr) and starts
// accepting. ctx bounds only the bind; Close ends the Server.
func Listen(ctx context.Context, endpoint string, opts ...Option) (*Server, error) {
	cfg, err := newConfig(opts)
	if err != nil {
		return nil, err
	}
	addr, err := parseEndpoint(endpoint, true)
	if err != nil {
		return nil, err
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("zmtp: listen %s: %w", endpoint, err)
	}
	s := &Server{
		cfg:    cfg,
		ln:     ln,
		events: make(chan Event, cfg.recvQueue),
		peers:  make(map[RoutingID]*link),
	}
	if cfg.poller && pollerSupported {
		p, err := newPoller()
		if err != nil {
			_ = ln.Close()
			return nil, fmt.Errorf("zmtp: listen %s: %w", endpoint, err)
		}
		s.poller, s.sweepWake = p, make(chan struct{}, 1)
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	if s.poller != nil {
		s.wg.Add(2)
		go s.runPoller()
		go s.runSweeper()
	}
	s.wg.Add(1)
	go s.acceptLoop()
	return s, nil
}

// Addr is the bound endpoint, tcp://ip:port, with the actual port.
func (s *Server) Addr() string { return "tcp://" + s.ln.Addr().String() }

func (s *Server) acceptLoop() {
	defer s.wg.Done()
	var delay time.Duration
	for {
		nc, err := s.ln.Accept()
		if err != nil {
			if s.ctx.Err() != nil || errors.Is(err, net.ErrClosed) {
				return
			}
			// Out of file descriptors and the like: back off instead of spinning, as
			// net/http does; the listener stays open.
			delay = min(max(2*delay, 5*time.Millisecond), time.Second)
			s.cfg.logger.Warn("zmtp: accept", "err", err, "retry_in", delay)
			select {
			case <-time.After(delay):
			case <-s.ctx.Done():
				return
			}
			continue
		}
		delay = 0
		if s.cfg.maxConns > 0 && s.conns.Load() >= int64(s.cfg.maxConns) {
			s.cfg.logger.Warn("zmtp: connection limit reached, refusing", "remote", nc.RemoteAddr().String())
			_ = nc.Close()
			continue
		}
		s.conns.Add(1)
		s.wg.Add(1)
		go s.serveConn(nc)
	}
}

// serveConn runs one connection: handshake under a deadline, then its reader here
// (goroutine-per-connection mode) or its first burst (poller mode, server_poll.go); its
// writer runs in another goroutine while there is something to write.
func (s *Server) serveConn(nc net.Conn) {
	defer s.wg.Done()
	fr := newFrameReader(nc, s.cfg.maxMsg)
	stop := context.AfterFunc(s.ctx, func() { _ = nc.Close() })
	g, err := handshake(nc, fr, socketServer, socketClient, time.Now().Add(s.cfg.handshakeTimeout))
	stop()
	if err != nil {
		s.cfg.logger.Debug("zmtp: handshake failed", "remote", nc.RemoteAddr().String(), "err", err)
		_ = nc.Close()
		s.conns.Add(-1)
		return
	}
	l := newLink(nc, fr, s.cfg, g.supportsHeartbeat())
	id := RoutingID(s.nextID.Add(1))
	if s.poller != nil {
		if err := s.initPolled(l, id); err != nil {
			s.cfg.logger.Warn("zmtp: cannot poll connection", "remote", nc.RemoteAddr().String(), "err", err)
			_ = nc.Close()
			s.conns.Add(-1)
			return
		}
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		_ = nc.Close()
		s.conns.Add(-1)
		return
	}
	s.peers[id] = l
	s.mu.Unlock()

	l.start()
	switch {
	case !s.emit(l, Event{Kind: EventOpened, RoutingID: id}):
		l.shutdown(ErrClosed)
	case l.ps != nil:
		s.burst(l) // it re-arms the link or finishes it
		return
	default:
		l.shutdown(l.readLoop(func(b []byte) bool {
			return s.emit(l, Event{Kind: EventMessage, RoutingID: id, Data: b})
		}, nil))
	}
	s.finish(l, id)
}

// finish reports a link that was shut down, once its writer has ended.
func (s *Server) finish(l *link, id RoutingID) {
	defer s.conns.Add(-1)
	reason := l.err()
	l.stopWriters()
	s.mu.Lock()
	delete(s.peers, id)
	s.mu.Unlock()
	if s.ctx.Err() == nil {
		s.cfg.logger.Debug("zmtp: connection closed", "id", id, "reason", reason)
		// Closed must reach the caller even if this peer's link is already gone.
		s.emit(nil, Event{Kind: EventClosed, RoutingID: id, Reason: reason})
	}
}

// emit queues an event for Recv. When the queue is full it waits (backpressure on this
// peer only), until the Server closes or, if l is given, until l ends.
func (s *Server) emit(l *link, ev Event) bool {
	var ldone chan struct{}
	if l != nil {
		ldone = l.done
	}
	select {
	case s.events <- ev:
		return true
	case <-s.ctx.Done():
		return false
	case <-ldone:
		return false
	}
}

// Recv returns the next event: a message, or a connection opened or closed. After
// Close it returns ErrClosed, even if events were still queued.
func (s *Server) Recv(ctx context.Context) (Event, error) {
	if s.ctx.Err() != nil {
		// Checked first: the select below picks at random among ready cases, and
		// connections that Close ended may have queued their Closed events.
		return Event{}, ErrClosed
	}
	select {
	case ev := <-s.events:
		return ev, nil
	case <-ctx.Done():
		return Event{}, ctx.Err()
	case <-s.ctx.Done():
		return Event{}, ErrClosed
	}
}

// Send queues data for the connection id and returns at once; data must not be modified
// afterwards. If the connection's queue is full, the connection is closed (its Closed
// event follows) and Send returns ErrOverflow: a message is never silently dropped.
func (s *Server) Send(id RoutingID, data []byte) error {
	if len(data) > s.cfg.maxMsg {
		return fmt.Errorf("%w: %d bytes", ErrTooLarge, len(data))
	}
	s.mu.Lock()
	l, closed := s.peers[id], s.closed
	s.mu.Unlock()
	switch {
	case closed:
		return ErrClosed
	case l == nil || l.closed():
		return fmt.Errorf("%w: %d", ErrUnknownPeer, id)
	case l.draining.Load():
		return fmt.Errorf("%w: %d is being disconnected", ErrUnknownPeer, id)
	}
	if ok, _ := l.queue.push(data); !ok {
		l.shutdown(ErrOverflow)
		return fmt.Errorf("%w: routing id %d", ErrOverflow, id)
	}
	l.kick()
	return nil
}

// Disconnect closes the connection id; its Closed event (Reason ErrDisconnected) follows.
func (s *Server) Disconnect(id RoutingID) error {
	s.mu.Lock()
	l := s.peers[id]
	s.mu.Unlock()
	if l == nil {
		return fmt.Errorf("%w: %d", ErrUnknownPeer, id)
	}
	l.shutdown(ErrDisconnected)
	return nil
}

// DisconnectAfterFlush closes the connection id once the messages queued for it are
// written and the peer has closed its side (it reads our FIN), or after timeout at the
// latest (timeout <= 0: only the heartbeat timeout bounds the writes). It returns at
// once. Use it to send a last message, a rejection for example, and close: with
// Disconnect that message could be lost. Send refuses new messages for id from now on
// (ErrUnknownPeer); the Closed event (Reason ErrDisconnected) follows.
func (s *Server) DisconnectAfterFlush(id RoutingID, timeout time.Duration) error {
	s.mu.Lock()
	l := s.peers[id]
	s.mu.Unlock()
	if l == nil {
		return fmt.Errorf("%w: %d", ErrUnknownPeer, id)
	}
	l.closeAfterFlush(timeout)
	return nil
}

// Close stops accepting, closes every connection and waits for all goroutines to end.
func (s *Server) Close() error {
	s.closeOnce.Do(func() {
		s.mu.Lock()
		s.closed = true
		for _, l := range s.peers {
			l.shutdown(ErrClosed)
		}
		s.mu.Unlock()
		s.cancel()
		_ = s.ln.Close()
		if s.poller != nil {
			_ = s.poller.close()
		}
	})
	s.wg.Wait()
	return nil
}
