package zmtp

import (
	"errors"
	"fmt"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// link is one established connection: a reader (run by the owner's goroutine) and a
// writer goroutine that runs only while there is something to write (writer.go), so
// that an idle connection costs one goroutine. Either side, or the owner, ends it with
// shutdown; the first reason wins and is what the owner reports.
type link struct {
	nc    net.Conn
	fr    *frameReader
	cfg   *config
	queue *sendQueue

	// mu guards the writer's work besides the queue, and its life.
	mu      sync.Mutex
	pongCtx []byte
	// flushWait are closed once what was queued before them is on the socket
	// (Client.Flush).
	flushWait []chan struct{}
	writers   sync.WaitGroup
	pinger    *time.Timer

	peerTTL atomic.Int64 // nanoseconds, 0 = none announced

	lingerOnce  sync.Once
	draining    atomic.Bool
	lingerTimer atomic.Pointer[time.Timer]

	done   chan struct{}
	reason error
	once   sync.Once

	// The flags (next to each other, which keeps the struct in a smaller size class).
	peerHB  bool // the peer speaks ZMTP 3.1, so PING/PONG are allowed
	pongDue bool // under mu, as are the next four
	pingDue bool
	// lingerDue: the connection is to end once what is queued is written
	// (Server.DisconnectAfterFlush); from then on draining refuses new messages.
	lingerDue bool
	writing   bool // a writer runs, or has ended the connection's writing for good
	stopped   bool // no writer may start any more: the owner waits for the last

	// ps is set when a Server's poller serves the link (server_poll.go); nil on a
	// Client and in goroutine-per-connection mode.
	ps *pollState
}

func newLink(nc net.Conn, fr *frameReader, cfg *config, peerHB bool) *link {
	return &link{
		nc: nc, fr: fr, cfg: cfg, peerHB: peerHB,
		queue: newSendQueue(cfg.sendQueue),
		done:  make(chan struct{}),
	}
}

// shutdown closes the connection; the first reason is kept.
func (l *link) shutdown(reason error) {
	l.once.Do(func() {
		if l.draining.Load() && !errors.Is(reason, ErrDisconnected) && !errors.Is(reason, ErrClosed) {
			// The peer's close (EOF) is the expected end of a linger.
			reason = ErrDisconnected
		}
		l.reason = reason
		if t := l.lingerTimer.Load(); t != nil {
			t.Stop()
		}
		close(l.done)
		if l.ps != nil {
			l.ps.srv.pollShutdown(l) // before the close: it leaves the epoll set
		}
		_ = l.nc.Close()
	})
}

// err is the reason the link ended; valid once done is closed.
func (l *link) err() error {
	<-l.done
	return l.reason
}

func (l *link) closed() bool {
	select {
	case <-l.done:
		return true
	default:
		return false
	}
}

// finishLinger ends a connection whose queue is written: it half-closes (FIN after our
// last byte) and waits for the peer to close its side, which the reader sees as EOF, so
// that closing never resets a connection whose last messages the peer has not read yet.
// The linger timer bounds the wait.
func (l *link) finishLinger() {
	if tc, ok := l.nc.(interface{ CloseWrite() error }); ok && tc.CloseWrite() == nil {
		<-l.done
		return
	}
	l.shutdown(ErrDisconnected)
}

// closeAfterFlush ends the connection once everything queued is written and the peer
// closed its side, or after timeout (if positive), whichever comes first. Messages sent
// afterwards are refused.
func (l *link) closeAfterFlush(timeout time.Duration) {
	l.lingerOnce.Do(func() {
		l.draining.Store(true)
		l.mu.Lock()
		l.lingerDue = true
		l.mu.Unlock()
		l.kick()
		if timeout > 0 {
			l.lingerTimer.Store(time.AfterFunc(timeout, func() {
				l.shutdown(fmt.Errorf("%w: linger of %v ended before the flush and the peer's close", ErrDisconnected, timeout))
			}))
		}
	})
}

// setWriteDeadline bounds how long a peer may leave our writes unread.
func (l *link) setWriteDeadline() {
	if d := l.writeTimeout(); d > 0 {
		_ = l.nc.SetWriteDeadline(time.Now().Add(d))
	}
}

func (l *link) writeTimeout() time.Duration {
	if l.cfg.hbTimeout > 0 {
		return l.cfg.hbTimeout
	}
	return 0
}

// readTimeout is how long the peer may be silent: our heartbeat timeout, shortened to
// the TTL the peer announced in its PINGs (as libzmq does). Without heartbeats on the
// peer's side (ZMTP 3.0), silence is legitimate and only TCP keep-alive applies.
func (l *link) readTimeout() time.Duration {
	if !l.peerHB {
		return 0
	}
	d := l.cfg.hbTimeout
	if ttl := time.Duration(l.peerTTL.Load()); ttl > 0 && (d == 0 || ttl < d) {
		d = ttl
	}
	return d
}

// readLoop reads until the connection fails or deliver (or tooLarge, for a skipped
// frame over the limit) returns false, handling commands itself. It returns why it
// stopped.
func (l *link) readLoop(deliver func([]byte) bool, tooLarge func(prefix []byte, size uint64) bool) error {
	for {
		if d := l.readTimeout(); d > 0 {
			_ = l.nc.SetReadDeadline(time.Now().Add(d))
		}
		f, err := l.fr.next()
		if err != nil {
			return readError(err)
		}
		if err := l.handle(f, deliver, tooLarge); err != nil {
			return err
		}
	}
}

// readBurst is readLoop for a connection served by a Server's poller: it reads frames
// while bytes are available and returns nil once the connection is idle, that is when,
// at a frame boundary with nothing buffered, the socket has nothing either (src's
// probe). Within a frame it reads as readLoop does, blocking, under the read deadline.
// Commands are answered as in readLoop, PONGs written at once if the socket takes them
// (kickControl).
func (l *link) readBurst(src *pollSource, deliver func([]byte) bool) error {
	for {
		src.probe = l.fr.r.Buffered() == 0
		// The deadline is set only if the frame needs a blocking read (src), so a
		// frame that arrives whole costs no timer.
		src.deadline = 0
		if d := l.readTimeout(); d > 0 {
			src.deadline = time.Now().Add(d).UnixNano()
		}
		f, err := l.fr.next()
		if src.deadlineSet && err == nil {
			// A stale deadline would fail the next probe.
			_ = l.nc.SetReadDeadline(time.Time{})
			src.deadlineSet = false
		}
		if err != nil {
			if errors.Is(err, errWouldBlock) {
				return nil
			}
			return readError(err)
		}
		if err := l.handle(f, deliver, nil); err != nil {
			return err
		}
		// After a message, the next probe may linger (the peer may send the next
		// one soon, see lingerState); after PINGs and PONGs alone, it does not.
		if !f.isCommand() {
			src.active = true
			if src.quietAt != 0 {
				src.message(time.Now().UnixNano())
			}
		}
	}
}

func readError(err error) error {
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return ErrHeartbeatTimeout
	}
	return err
}

// handle acts on one frame: a command, or a message for deliver (or tooLarge). A
// non-nil result ends the connection.
func (l *link) handle(f frame, deliver func([]byte) bool, tooLarge func(prefix []byte, size uint64) bool) error {
	if f.isCommand() {
		return l.command(f.body)
	}
	if f.more() {
		return ErrMultipart
	}
	if f.oversize > 0 {
		if tooLarge == nil {
			return fmt.Errorf("%w: frame of %d bytes", ErrTooLarge, f.oversize)
		}
		if !tooLarge(f.body, f.oversize) {
			return ErrClosed
		}
		return nil
	}
	if !deliver(f.body) {
		return ErrClosed
	}
	return nil
}

func (l *link) command(body []byte) error {
	name, data, err := parseCommand(body)
	if err != nil {
		return err
	}
	switch name {
	case cmdPing:
		ttl, ctx, err := parsePing(data)
		if err != nil {
			return err
		}
		nv := int64(ttl) * int64(100*time.Millisecond)
		if old := l.peerTTL.Swap(nv); old != nv && l.ps != nil {
			l.ps.srv.wakeSweeper() // the link's timeout changed: sweep at its pace
		}
		l.mu.Lock()
		l.pongCtx = append(l.pongCtx[:0], ctx...) // a PONG already due carries the latest
		l.pongDue = true
		l.mu.Unlock()
		l.kickControl()
	case cmdPong:
		// Any frame counts as a sign of life; the read deadline was already renewed.
	case cmdError:
		reason, err := parseError(data)
		if err != nil {
			return err
		}
		return fmt.Errorf("%w: %q", ErrPeerError, reason)
	case cmdReady:
		return fmt.Errorf("%w: READY after handshake", ErrProtocol)
	default:
		// Other commands (SUBSCRIBE, ...) have no meaning for CLIENT/SERVER; the spec
		// lets us ignore them, and they carry no application data.
		l.cfg.logger.Debug("zmtp: ignoring command", "name", printable([]byte(name)))
	}
	return nil
}
