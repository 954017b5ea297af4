package zmtp

import (
	"fmt"
	"sync"
	"time"
)

// Idle connections without a goroutine (WithPoller, Linux): once its handshake is done,
// an established connection is read in bursts. A burst reads frames while bytes are
// available; when the socket has nothing at a frame boundary, the connection is
// registered (one-shot) in the Server's epoll set and the burst's goroutine ends,
// holding no read buffer. When bytes arrive, the poller starts the next burst. A
// sweeper goroutine closes idle connections silent past their heartbeat timeout, which
// a blocked read's deadline does in goroutine-per-connection mode, and schedules every
// connection's PINGs, which a timer per connection does in that mode.

// Link states under the poller, guarded by pollState.mu.
const (
	// A goroutine serves the link: its handshake's, a burst's, or its finish.
	pollBusy int32 = iota
	// The link is idle and registered in the epoll set; no goroutine serves it.
	pollArmed
	// The link was shut down while armed; a finish goroutine reports it.
	pollFinishing
)

// pollState is what a link served by the poller keeps besides the link itself.
type pollState struct {
	srv *Server
	id  RoutingID
	src pollSource

	mu         sync.Mutex
	state      int32
	registered bool // in the epoll set (ADD done; MOD re-arms)
	// idleSince is when the link was last armed (UnixNano): it has been silent since.
	idleSince int64
	// nextPing is when the sweeper is to send the link's next PING (UnixNano; 0: none).
	nextPing int64
}

// initPolled prepares l for the poller; false if its connection cannot be polled.
func (s *Server) initPolled(l *link, id RoutingID) error {
	ps := &pollState{srv: s, id: id}
	if err := ps.src.init(l.nc); err != nil {
		return err
	}
	if l.peerHB && s.cfg.hbInterval > 0 {
		ps.nextPing = time.Now().Add(s.cfg.hbInterval).UnixNano()
	}
	l.fr.r.src = &ps.src
	l.ps = ps
	return nil
}

// Adaptive linger. A burst that delivered a message and then finds nothing to read
// may wait for the peer's next message in a blocking read (Go's netpoller) before its
// connection goes back to the poller: a message read that way costs no epoll round
// trip (a wake-up of the poller, epoll_wait, a goroutine start, epoll_ctl to re-arm),
// but the goroutine and its stack are held while it waits. How long it waits follows
// the peer's quiet gaps (from a probe that found nothing after a message to its next
// message), as TCP's retransmission timeout follows round-trip times: their moving
// average plus four times their mean deviation, at least minPollLinger and at most
// maxPollLinger. A peer whose average gap exceeds maxPollGap (a session's keep-alive,
// once a second) gets no linger at all, so only connections that send four messages a
// second or more hold a goroutine between them; a new connection starts with
// minPollLinger. Bursts of PINGs and PONGs alone, an idle connection's, never linger.
const (
	minPollLinger = time.Millisecond
	maxPollLinger = 500 * time.Millisecond
	maxPollGap    = 250 * time.Millisecond
)

// lingerState is a polled connection's record of its peer's quiet gaps.
type lingerState struct {
	// gap is the moving average (weight 1/8) of the quiet gaps and dev that of their
	// deviation from it (weight 1/4), in nanoseconds; gap 0: none measured yet.
	gap, dev int64
	// quietAt is when the current quiet period after a message began (UnixNano); 0:
	// none is being timed.
	quietAt int64
}

// quiet records that a probe found nothing after a message at now and returns how
// long to linger (0: not at all).
func (g *lingerState) quiet(now int64) time.Duration {
	g.quietAt = now
	if g.gap > int64(maxPollGap) {
		return 0
	}
	return min(max(time.Duration(g.gap+4*g.dev), minPollLinger), maxPollLinger)
}

// message records that a message arrived at now, ending the quiet period timed by
// quiet, if any.
func (g *lingerState) message(now int64) {
	if g.quietAt == 0 {
		return
	}
	d := max(now-g.quietAt, 0)
	g.quietAt = 0
	if g.gap == 0 {
		g.gap, g.dev = d, d/2
		return
	}
	diff := d - g.gap
	g.gap += diff / 8
	g.dev += (max(diff, -diff) - g.dev) / 4
}

// burst reads what l's peer sent; then it re-arms l in the epoll set, or, if l ended,
// reports it.
func (s *Server) burst(l *link) {
	ps := l.ps
	err := l.readBurst(&ps.src, func(b []byte) bool {
		return s.emit(l, Event{Kind: EventMessage, RoutingID: ps.id, Data: b})
	})
	if err == nil {
		ps.mu.Lock()
		if !l.closed() {
			// Silent since its last probe found nothing (before a linger, if any).
			ps.idleSince = ps.src.idleAt
			ps.state = pollArmed
			err = s.poller.arm(ps.src.rc, uint64(ps.id), !ps.registered)
			if err == nil {
				ps.registered = true
				ps.mu.Unlock()
				return
			}
			ps.state = pollBusy
			err = fmt.Errorf("zmtp: poller: %w", err)
		}
		ps.mu.Unlock()
	}
	l.shutdown(err) // a no-op if it was shut down already
	s.finish(l, ps.id)
}

// pollReady is the poller's report that l (by token) has bytes or was closed by the
// peer: it starts a burst unless the link is gone or busy (a late report).
func (s *Server) pollReady(token uint64) {
	s.mu.Lock()
	l := s.peers[RoutingID(token)]
	s.mu.Unlock()
	if l == nil || l.ps == nil {
		return
	}
	ps := l.ps
	ps.mu.Lock()
	if ps.state != pollArmed {
		ps.mu.Unlock()
		return
	}
	ps.state = pollBusy
	s.wg.Add(1) // the poller runs, so the count is not zero
	ps.mu.Unlock()
	go func() {
		defer s.wg.Done()
		s.burst(l)
	}()
}

// pollShutdown runs when l is shut down (after done is closed, before its connection
// is): it leaves the epoll set, and an armed link, which no goroutine serves, gets one
// to report it. A busy link's goroutine sees the shutdown itself: a burst's read fails
// on the closed connection, and a burst about to re-arm checks done under mu.
func (s *Server) pollShutdown(l *link) {
	ps := l.ps
	ps.mu.Lock()
	defer ps.mu.Unlock()
	if ps.registered {
		_ = s.poller.remove(ps.src.rc)
	}
	if ps.state != pollArmed {
		return
	}
	ps.state = pollFinishing
	s.wg.Add(1) // the link is still counted in conns and the Server waits for it
	go func() {
		defer s.wg.Done()
		s.finish(l, ps.id)
	}()
}

// runPoller is the poller's goroutine.
func (s *Server) runPoller() {
	defer s.wg.Done()
	if err := s.poller.run(s.pollReady); err != nil && s.ctx.Err() == nil {
		// The epoll set failed: idle links would never be read again, so end them all.
		s.cfg.logger.Error("zmtp: poller failed, closing connections", "err", err)
		s.mu.Lock()
		for _, l := range s.peers {
			l.shutdown(fmt.Errorf("zmtp: poller: %w", err))
		}
		s.mu.Unlock()
	}
}

// Sweep interval bounds: the sweeper looks at each link about four times per read
// timeout, so a silent link is closed between its timeout and 1.25 times it, and four
// times per heartbeat interval, so a PING is at most a quarter interval late (and on
// time on average: each is due an interval after the previous one was due).
const (
	minSweep     = 10 * time.Millisecond
	defaultSweep = time.Second
)

// runSweeper is the sweeper's goroutine: it closes armed links silent for longer than
// their read timeout (the heartbeat timeout, or the peer's shorter TTL), as the read
// deadline does for a link with a reader goroutine, and sends the links' PINGs.
func (s *Server) runSweeper() {
	defer s.wg.Done()
	var links []*link
	t := time.NewTimer(s.baseSweep())
	defer t.Stop()
	for {
		select {
		case <-t.C:
		case <-s.sweepWake:
		case <-s.ctx.Done():
			return
		}
		var next time.Duration
		links, next = s.sweep(links[:0], time.Now())
		clear(links)
		t.Reset(next)
	}
}

func (s *Server) baseSweep() time.Duration {
	d := defaultSweep
	if s.cfg.hbTimeout > 0 {
		d = min(d, s.cfg.hbTimeout/4)
	}
	if s.cfg.hbInterval > 0 {
		d = min(d, s.cfg.hbInterval/4)
	}
	return max(d, minSweep)
}

// sweep closes the links silent past their timeout at now, has the PINGs due sent, and
// returns when to look again. links is scratch space.
func (s *Server) sweep(links []*link, now time.Time) ([]*link, time.Duration) {
	s.mu.Lock()
	for _, l := range s.peers {
		links = append(links, l)
	}
	s.mu.Unlock()
	next := s.baseSweep()
	nowNs, ivl := now.UnixNano(), int64(s.cfg.hbInterval)
	for _, l := range links {
		ps := l.ps
		if ps == nil {
			continue
		}
		d := l.readTimeout()
		if d > 0 {
			next = min(next, max(d/4, minSweep))
		}
		ps.mu.Lock()
		silent := d > 0 && ps.state == pollArmed && nowNs-ps.idleSince > int64(d)
		ping := ps.nextPing != 0 && nowNs >= ps.nextPing
		if ping {
			if ps.nextPing += ivl; ps.nextPing <= nowNs {
				ps.nextPing = nowNs + ivl
			}
		}
		ps.mu.Unlock()
		switch {
		case silent:
			l.shutdown(fmt.Errorf("%w: silent for %v", ErrHeartbeatTimeout, d))
		case ping:
			l.pingNow()
		}
	}
	return links, next
}

// wakeSweeper makes the sweeper look again now (a peer announced a new TTL, which may
// be shorter than its sweep interval allows for).
func (s *Server) wakeSweeper() {
	select {
	case s.sweepWake <- struct{}{}:
	default:
	}
}
