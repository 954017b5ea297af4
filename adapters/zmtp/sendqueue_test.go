package zmtp

import (
	"fmt"
	"testing"
)

// The queue refuses exactly at its bound, is FIFO across growth and reuse, wakes a
// waiting sender when a message leaves, and keeps no large storage once drained.
func TestSendQueue(t *testing.T) {
	const bound = 100
	q := newSendQueue(bound)
	next, want := 0, 0
	push := func() bool {
		ok, space := q.push([]byte(fmt.Sprint(next)))
		if ok {
			next++
		} else if space == nil {
			t.Fatal("full queue returned no channel to wait on")
		}
		return ok
	}
	pop := func() {
		data, ok := q.pop()
		if !ok || string(data) != fmt.Sprint(want) {
			t.Fatalf("pop %q %v, want %d", data, ok, want)
		}
		want++
	}
	for round := range 5 {
		for push() {
		}
		if q.len() != bound {
			t.Fatalf("round %d: refused at %d messages, bound %d", round, q.len(), bound)
		}
		_, space := q.push(nil)
		// Interleave, so that the storage is reused from the front as well.
		for range 30 + round*10 {
			pop()
		}
		select {
		case <-space:
		default:
			t.Fatal("a waiting sender was not woken")
		}
		for range 10 {
			if !push() {
				t.Fatal("refused below the bound")
			}
		}
		for q.len() > 0 {
			pop()
		}
		if _, ok := q.pop(); ok {
			t.Fatal("pop from an empty queue")
		}
		if cap(q.items) > keptCap {
			t.Fatalf("drained queue keeps room for %d messages", cap(q.items))
		}
	}
}
