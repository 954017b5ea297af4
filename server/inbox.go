package server

import (
	"sync"

	"github.com/zraft/zraft/domain/gateway"
)

// inbox carries everything that comes back to the gateway loop from other goroutines:
// applied entries (from the state machine), leadership events, failed proposals and read
// results. Order is kept: an entry applied before a leadership event was published is
// stepped before it.
//
// Overflow: applied entries are bounded by max; when the loop falls that far behind,
// the state machine waits in push (holding raft's apply, never the machine lock the loop
// reads through), which slows the cluster down instead of dropping an entry. The other
// inputs never wait: each comes from one proposal or read the loop started, so their
// number is bounded by the work in flight. After close, pushes are discarded: the loop
// has ended and nobody would act on them.
type inbox struct {
	mu      sync.Mutex
	items   []gateway.Input
	applied int // applied entries among items
	max     int
	closed  bool
	space   *sync.Cond
	notify  chan struct{} // cap 1: items is non-empty
}

func newInbox(max int) *inbox {
	b := &inbox{max: max, notify: make(chan struct{}, 1)}
	b.space = sync.NewCond(&b.mu)
	return b
}

// pushApplied queues an applied entry, waiting while max of them are queued.
func (b *inbox) pushApplied(in gateway.Applied) {
	b.mu.Lock()
	for b.applied >= b.max && !b.closed {
		b.space.Wait()
	}
	if b.closed {
		b.mu.Unlock()
		return
	}
	b.items = append(b.items, in)
	b.applied++
	b.mu.Unlock()
	b.kick()
}

// push queues any other input without waiting.
func (b *inbox) push(in gateway.Input) {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return
	}
	b.items = append(b.items, in)
	b.mu.Unlock()
	b.kick()
}

func (b *inbox) kick() {
	select {
	case b.notify <- struct{}{}:
	default:
	}
}

// take hands over everything queued.
func (b *inbox) take(dst []gateway.Input) []gateway.Input {
	b.mu.Lock()
	dst = append(dst, b.items...)
	clear(b.items)
	b.items = b.items[:0]
	b.applied = 0
	b.space.Broadcast()
	b.mu.Unlock()
	return dst
}

// close releases waiting pushers and discards everything from now on.
func (b *inbox) close() {
	b.mu.Lock()
	b.closed = true
	b.items = nil
	b.space.Broadcast()
	b.mu.Unlock()
}
