package zmtp

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// link is one established connection: a reader (run by the owner's goroutine) and a
// writer goroutine that drains a bounded queue. Either side, or the owner, ends it with
// shutdown; the first reason wins and is what the owner reports.
type link struct {
	nc     net.Conn
	fr     *frameReader
	cfg    *config
	peerHB bool // the peer speaks ZMTP 3.1, so PING/PONG are allowed

	queue *sendQueue
	ctrl  chan struct{} // a PONG is due

	mu      sync.Mutex
	pongCtx []byte

	peerTTL atomic.Int64 // nanoseconds, 0 = none announced

	// flushReq asks the writer to write what is queued and to close the reply when it
	// is on the socket (Client.Flush).
	flushReq chan chan struct{}
	// linger is closed when the connection is to end once what is queued is written
	// (Server.DisconnectAfterFlush); from then on draining refuses new messages.
	linger      chan struct{}
	lingerOnce  sync.Once
	draining    atomic.Bool
	lingerTimer atomic.Pointer[time.Timer]

	done   chan struct{}
	once   sync.Once
	reason error
}

func newLink(nc net.Conn, fr *frameReader, cfg *config, peerHB bool) *link {
	return &link{
		nc: nc, fr: fr, cfg: cfg, peerHB: peerHB,
		queue:    newSendQueue(cfg.sendQueue),
		ctrl:     make(chan struct{}, 1),
		flushReq: make(chan chan struct{}),
		linger:   make(chan struct{}),
		done:     make(chan struct{}),
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

// writeBufs are the writers' buffers: a writer borrows one for a batch and returns it
// after the flush, so an idle connection holds none.
var writeBufs = sync.Pool{New: func() any { return bufio.NewWriterSize(nil, 8<<10) }}

// maxBatch is how many messages at most go into one flush.
const maxBatch = 257

// writeLoop sends queued messages, PONGs and our PINGs, batching what is queued into one
// flush. A peer that does not take our bytes within the write timeout is disconnected.
func (l *link) writeLoop() {
	var bw *bufio.Writer // borrowed from writeBufs for one batch
	writer := func() *bufio.Writer {
		if bw == nil {
			bw = writeBufs.Get().(*bufio.Writer)
			bw.Reset(l.nc)
		}
		return bw
	}
	var tick <-chan time.Time
	if l.peerHB && l.cfg.hbInterval > 0 {
		t := time.NewTicker(l.cfg.hbInterval)
		defer t.Stop()
		tick = t.C
	}
	var hdr [9]byte
	writeMsg := func(data []byte) {
		w := writer()
		_, _ = w.Write(frameHeader(&hdr, 0, len(data)))
		_, _ = w.Write(data)
	}
	// drainQueued writes the messages queued now: all those queued before a flush or
	// linger request, since the queue is FIFO.
	drainQueued := func() {
		for n := l.queue.len(); n > 0; n-- {
			data, _ := l.queue.pop()
			writeMsg(data)
		}
	}
	var flushed []chan struct{}
	lingering := false
	for {
		select {
		case <-l.done:
			return
		case reply := <-l.flushReq:
			l.setWriteDeadline()
			drainQueued()
			flushed = append(flushed, reply)
		case <-l.linger:
			l.setWriteDeadline()
			drainQueued()
			lingering = true
		case <-l.queue.notify:
			l.setWriteDeadline()
			for range maxBatch {
				data, ok := l.queue.pop()
				if !ok {
					break
				}
				writeMsg(data)
			}
			if l.queue.len() > 0 {
				select { // the rest goes into the next batch
				case l.queue.notify <- struct{}{}:
				default:
				}
			}
		case <-l.ctrl:
			l.setWriteDeadline()
			l.mu.Lock()
			pong := appendCommand(nil, cmdPong, l.pongCtx)
			l.mu.Unlock()
			_, _ = writer().Write(pong)
		case <-tick:
			l.setWriteDeadline()
			var ping [2]byte
			binary.BigEndian.PutUint16(ping[:], uint16(l.cfg.hbTTL/(100*time.Millisecond)))
			_, _ = writer().Write(appendCommand(nil, cmdPing, ping[:]))
		}
		// bufio keeps the first write error and returns it from Flush.
		var err error
		if bw != nil {
			err = bw.Flush()
			bw.Reset(nil)
			writeBufs.Put(bw)
			bw = nil
		}
		if err != nil {
			if errors.Is(err, os.ErrDeadlineExceeded) {
				err = fmt.Errorf("%w: peer stopped reading", ErrHeartbeatTimeout)
			}
			l.shutdown(err)
			return
		}
		for _, reply := range flushed {
			close(reply)
		}
		flushed = flushed[:0]
		if lingering {
			l.finishLinger()
			return
		}
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
		close(l.linger)
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
			if errors.Is(err, os.ErrDeadlineExceeded) {
				return ErrHeartbeatTimeout
			}
			return err
		}
		if f.isCommand() {
			if err := l.command(f.body); err != nil {
				return err
			}
			continue
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
			continue
		}
		if !deliver(f.body) {
			return ErrClosed
		}
	}
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
		l.peerTTL.Store(int64(ttl) * int64(100*time.Millisecond))
		l.mu.Lock()
		l.pongCtx = append(l.pongCtx[:0], ctx...)
		l.mu.Unlock()
		select {
		case l.ctrl <- struct{}{}:
		default: // a PONG is already due; it will carry the latest context
		}
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
