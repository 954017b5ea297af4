package zmtp

import "sync"

// sendQueue is a connection's bounded FIFO of outgoing messages. It holds no storage
// while empty and grows on demand up to its bound, so that an idle connection costs
// almost nothing (a channel of the bound's capacity cost 24 KiB per connection).
// Messages leave it one at a time, as they are handed to the writer's buffer, so the
// bound counts exactly what a buffered channel of that capacity would.
type sendQueue struct {
	bound int

	mu    sync.Mutex
	items [][]byte
	head  int
	// space, when not nil, is closed when a message leaves a full queue (a Client's
	// Send waiting for room); it exists only while someone waits.
	space chan struct{}
}

// keptCap is the largest storage a drained queue keeps for the next burst; a larger
// one is released, so a burst's memory does not outlive it.
const keptCap = 16

func newSendQueue(bound int) *sendQueue {
	return &sendQueue{bound: bound}
}

// push appends data unless the queue holds bound messages. When it is full, it returns
// false and a channel that is closed once there is room. The caller wakes the writer.
func (q *sendQueue) push(data []byte) (bool, <-chan struct{}) {
	q.mu.Lock()
	if len(q.items)-q.head >= q.bound {
		if q.space == nil {
			q.space = make(chan struct{})
		}
		space := q.space
		q.mu.Unlock()
		return false, space
	}
	if len(q.items) == cap(q.items) && q.head > 0 {
		// Reuse the room of messages already taken before growing.
		n := copy(q.items, q.items[q.head:])
		clear(q.items[n:])
		q.items, q.head = q.items[:n], 0
	}
	q.items = append(q.items, data)
	q.mu.Unlock()
	return true, nil
}

// pop removes the oldest message; ok is false when the queue is empty.
func (q *sendQueue) pop() (data []byte, ok bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.head == len(q.items) {
		return nil, false
	}
	data = q.items[q.head]
	q.items[q.head] = nil
	q.head++
	if q.head == len(q.items) {
		q.items, q.head = q.items[:0], 0
		if cap(q.items) > keptCap {
			q.items = nil
		}
	}
	if q.space != nil {
		close(q.space)
		q.space = nil
	}
	return data, true
}

// len is the number of messages queued.
func (q *sendQueue) len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.items) - q.head
}
