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

// start begins the connection's PINGs, when the peer takes them.
func (l *link) start() {
	if l.peerHB && l.cfg.hbInterval > 0 {
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
		var pong []byte
		if l.pongDue {
			pong = appendCommand(nil, cmdPong, l.pongCtx)
		}
		ping, replies, linger := l.pingDue, l.flushWait, l.lingerDue
		l.pongDue, l.pingDue, l.flushWait = false, false, nil
		// Read under mu, so that the flushes taken above cover every message queued
		// before them, and so that a message queued after this check finds writing
		// false and starts a writer.
		n := l.queue.len()
		if l.closed() || (pong == nil && !ping && len(replies) == 0 && !linger && n == 0) {
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
		if pong != nil {
			_, _ = bw.Write(pong)
		}
		if ping {
			var ttl [2]byte
			binary.BigEndian.PutUint16(ttl[:], uint16(l.cfg.hbTTL/(100*time.Millisecond)))
			_, _ = bw.Write(appendCommand(nil, cmdPing, ttl[:]))
		}
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
			if errors.Is(err, os.ErrDeadlineExceeded) {
				err = fmt.Errorf("%w: peer stopped reading", ErrHeartbeatTimeout)
			}
			l.shutdown(err) // writing stays true: the connection is over
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
