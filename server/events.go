package server

import (
	"sync"

	"github.com/zraft/zraft/adapters/zmtp"
)

// eventQueue carries the client socket's events from the goroutine that reads them to
// the gateway loop in batches: the loop takes up to eventBatch queued events at once, so
// that under load it pays one wake-up and one round of outputs per batch instead of per
// message, and is not left at the back of the run queue behind the transport's writers
// once per message. The batch is bounded because each reply it produces starts a
// transport writer: a batch of thousands would queue thousands of runnable goroutines
// at once in front of Raft's heartbeats (the loop yields between batches). Order is kept.
//
// Overflow: at most max events wait; the reader then waits in push, which leaves the
// transport's own queue to fill and the connections that send to wait for their turn
// (backpressure, nothing dropped). After close, pushes are discarded.
type eventQueue struct {
	mu     sync.Mutex
	items  []zmtp.Event // items[head:] wait; items[:head] were taken (zeroed)
	head   int
	max    int
	closed bool
	space  *sync.Cond
	notify chan struct{} // cap 1: items is non-empty
}

func newEventQueue(max int) *eventQueue {
	q := &eventQueue{max: max, notify: make(chan struct{}, 1)}
	q.space = sync.NewCond(&q.mu)
	return q
}

// push queues ev, waiting while max events are queued. It reports false once the
// queue is closed.
func (q *eventQueue) push(ev zmtp.Event) bool {
	q.mu.Lock()
	for len(q.items)-q.head >= q.max && !q.closed {
		q.space.Wait()
	}
	if q.closed {
		q.mu.Unlock()
		return false
	}
	if q.head > 0 && len(q.items) == cap(q.items) {
		// Reuse the taken prefix instead of growing: the array stays bounded by max.
		n := copy(q.items, q.items[q.head:])
		clear(q.items[n:])
		q.items, q.head = q.items[:n], 0
	}
	q.items = append(q.items, ev)
	q.mu.Unlock()
	select {
	case q.notify <- struct{}{}:
	default:
	}
	return true
}

// take hands over the oldest queued events, at most max of them, appended to dst, and
// reports whether more wait (their notification stays pending).
func (q *eventQueue) take(dst []zmtp.Event, max int) ([]zmtp.Event, bool) {
	q.mu.Lock()
	n := min(len(q.items)-q.head, max)
	dst = append(dst, q.items[q.head:q.head+n]...)
	clear(q.items[q.head : q.head+n]) // the loop keeps no message bytes alive through us
	q.head += n
	rest := len(q.items) - q.head
	if rest == 0 {
		q.items, q.head = q.items[:0], 0
	}
	q.space.Broadcast()
	q.mu.Unlock()
	if rest > 0 {
		select {
		case q.notify <- struct{}{}:
		default:
		}
	}
	return dst, rest > 0
}

// close releases a waiting pusher and discards everything from now on.
func (q *eventQueue) close() {
	q.mu.Lock()
	q.closed = true
	q.items, q.head = nil, 0
	q.space.Broadcast()
	q.mu.Unlock()
}
