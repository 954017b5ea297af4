package zmtp

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"
)

// A connection's writer is a goroutine that exists only while there is something to
// write: kick starts it when a message is queued, a PONG or PING is due, or a flush or
// linger is requested, and it ends when it finds nothing left. An idle connection then
// costs its reader goroutine alone, not a second stack and a blocked select.

// writeBufs are the writers' buffers: a writer borrows one for a batch and returns it
// after the flush, so an idle connection holds none.
var writeBufs = sync.Pool{New: func() any { return bufio.NewWriterSize(nil, 8<<10) }}

// maxBatch is how many messages at most go into one flush.
const maxBatch = 257

// start begins the connection's PINGs, when the peer takes them, unless a Server's
// sweeper schedules them.
func (l *link) start() {
	if l.ps == nil && l.peerHB && l.cfg.hbInterval > 0 {
		l.mu.Lock()
		l.pinger = time.AfterFunc(l.cfg.hbInterval, l.pingDueNow)
		l.mu.Unlock()
	}
}

func (l *link) pingDueNow() {
	l.mu.Lock()
	if l.stopped {
		l.mu.Unlock()
		return
	}
	l.pingDue = true
	l.pinger.Reset(l.cfg.hbInterval)
	l.mu.Unlock()
	l.kick()
}

// pingNow has a PING sent (a Server's sweeper schedules the PINGs of the links its
// poller serves, instead of a timer per link).
func (l *link) pingNow() {
	l.mu.Lock()
	l.pingDue = true
	l.mu.Unlock()
	l.kickControl()
}

// kickControl has a due PONG and PING written. For a link that a Server's poller
// serves, when no writer runs and nothing else waits to be written, it writes them at
// once on the caller's goroutine (the sweeper's or a burst's) with one non-blocking
// write, so that an idle connection's heartbeats start no goroutine. Whatever the
// socket does not take at once is left to a writer goroutine, as is everything on
// other links.
func (l *link) kickControl() {
	if l.ps == nil {
		l.kick()
		return
	}
	l.mu.Lock()
	if l.writing || l.stopped || len(l.flushWait) > 0 || l.lingerDue || l.queue.len() > 0 || (!l.pongDue && !l.pingDue) {
		l.mu.Unlock()
		l.kick()
		return
	}
	var buf [64]byte
	out := l.appendControl(buf[:0])
	l.writing = true // this goroutine is the writer until it is done
	l.writers.Add(1)
	l.mu.Unlock()

	n, err := l.ps.src.writeNow(out)
	switch {
	case err == nil && n == len(out):
		l.mu.Lock()
		l.writing = false
		// Work queued meanwhile found writing true and started no writer.
		more := !l.closed() && (l.pongDue || l.pingDue || len(l.flushWait) > 0 || l.lingerDue || l.queue.len() > 0)
		l.mu.Unlock()
		l.writers.Done()
		if more {
			l.kick()
		}
	case err == nil || errors.Is(err, errWouldBlock):
		// The rest goes first, then whatever else is due, as the writer does.
		rest := append([]byte(nil), out[n:]...)
		go func() {
			defer l.writers.Done()
			l.setWriteDeadline()
			if _, err := l.nc.Write(rest); err != nil {
				l.shutdown(writeError(err))
				return
			}
			l.write()
		}()
	default:
		l.shutdown(err) // writing stays true: the connection is over
		l.writers.Done()
	}
}

// appendControl appends the PONG and PING due and clears them; l.mu is held.
func (l *link) appendControl(dst []byte) []byte {
	if l.pongDue {
		dst = appendCommand(dst, cmdPong, l.pongCtx)
	}
	if l.pingDue {
		var ttl [2]byte
		binary.BigEndian.PutUint16(ttl[:], uint16(l.cfg.hbTTL/(100*time.Millisecond)))
		dst = appendCommand(dst, cmdPing, ttl[:])
	}
	l.pongDue, l.pingDue = false, false
	return dst
}

func writeError(err error) error {
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return fmt.Errorf("%w: peer stopped reading", ErrHeartbeatTimeout)
	}
	return err
}

// stopWriters is called by the owner once the connection is shut down: no writer
// starts afterwards, and it returns when the last one has ended.
func (l *link) stopWriters() {
	l.mu.Lock()
	l.stopped = true
	if l.pinger != nil {
		l.pinger.Stop()
	}
	l.mu.Unlock()
	l.writers.Wait()
}

// kick starts the writer unless it runs.
func (l *link) kick() {
	l.mu.Lock()
	if l.writing || l.stopped {
		l.mu.Unlock()
		return
	}
	l.writing = true
	l.writers.Add(1) // under mu, before stopWriters can Wait
	l.mu.Unlock()
	go func() {
		defer l.writers.Done()
		l.write()
	}()
}

// requestFlush arranges for reply to be closed once every message queued before the
// call is written to the socket.
func (l *link) requestFlush(reply chan struct{}) {
	l.mu.Lock()
	l.flushWait = append(l.flushWait, reply)
	l.mu.Unlock()
	l.kick()
}

// write sends queued messages, PONGs and PINGs, batching what is queued into one flush,
// until nothing is left. A peer that does not take our bytes within the write timeout
// is disconnected.
func (l *link) write() {
	var hdr [9]byte
	for {
		l.mu.Lock()
		control := l.appendControl(nil)
		replies, linger := l.flushWait, l.lingerDue
		l.flushWait = nil
		// Read under mu, so that the flushes taken above cover every message queued
		// before them, and so that a message queued after this check finds writing
		// false and starts a writer.
		n := l.queue.len()
		if l.closed() || (len(control) == 0 && len(replies) == 0 && !linger && n == 0) {
			if l.ps != nil {
				// The poller's links write PINGs and PONGs without the writer when
				// they can (kickControl): an expired deadline would keep them from it.
				// Cleared under mu, so that it never clears the next writer's.
				_ = l.nc.SetWriteDeadline(time.Time{})
			}
			l.writing = false
			l.mu.Unlock()
			return
		}
		l.mu.Unlock()
		if len(replies) == 0 && !linger {
			n = min(n, maxBatch)
		}

		l.setWriteDeadline()
		bw := writeBufs.Get().(*bufio.Writer)
		bw.Reset(l.nc)
		_, _ = bw.Write(control)
		for range n {
			data, _ := l.queue.pop()
			_, _ = bw.Write(frameHeader(&hdr, 0, len(data)))
			_, _ = bw.Write(data)
		}
		// bufio keeps the first write error and returns it from Flush.
		err := bw.Flush()
		bw.Reset(nil)
		writeBufs.Put(bw)
		if err != nil {
			l.shutdown(writeError(err)) // writing stays true: the connection is over
			return
		}
		for _, reply := range replies {
			close(reply)
		}
		if linger {
			l.finishLinger() // writing stays true: nothing more is written
			return
		}
	}
}
