package server

import (
	"testing"
	"time"

	"github.com/zraft/zraft/adapters/zmtp"
)

func TestEventQueueKeepsOrderBoundsAndReleasesOnClose(t *testing.T) {
	checkLeaks(t)
	q := newEventQueue(2)
	for i := range 2 {
		if !q.push(zmtp.Event{Kind: zmtp.EventMessage, RoutingID: zmtp.RoutingID(i + 1)}) {
			t.Fatal("push refused before close")
		}
	}
	select {
	case <-q.notify:
	default:
		t.Fatal("no notification for queued events")
	}
	third := make(chan bool)
	go func() { third <- q.push(zmtp.Event{Kind: zmtp.EventClosed, RoutingID: 3}) }()
	select {
	case <-third:
		t.Fatal("a third push did not wait with two queued")
	case <-time.After(50 * time.Millisecond):
	}
	got, more := q.take(nil, 1)
	if !more || len(got) != 1 {
		t.Fatalf("take(1) of two: %d events, more %v", len(got), more)
	}
	select {
	case <-q.notify:
	default:
		t.Fatal("events left behind by a bounded take are not notified")
	}
	if !<-third {
		t.Fatal("the waiting push was refused")
	}
	got, more = q.take(got, 10)
	if more || len(got) != 3 {
		t.Fatalf("took %d events, want 3", len(got))
	}
	for i, ev := range got {
		if ev.RoutingID != zmtp.RoutingID(i+1) {
			t.Fatalf("event %d is from %d: order not kept (%+v)", i, ev.RoutingID, got)
		}
	}

	// A pusher waiting on a full queue is released by close, and later pushes are refused.
	q.push(zmtp.Event{})
	q.push(zmtp.Event{})
	blocked := make(chan bool)
	go func() { blocked <- q.push(zmtp.Event{}) }()
	time.Sleep(20 * time.Millisecond)
	q.close()
	if <-blocked {
		t.Fatal("a push waiting at close was accepted")
	}
	if rest, _ := q.take(nil, 10); q.push(zmtp.Event{}) || len(rest) != 0 {
		t.Fatal("pushes after close are kept")
	}
}

func TestEventQueueBoundedTakesKeepOrderAndBoundedMemory(t *testing.T) {
	// A reader that keeps pushing while the loop takes small batches, never draining the
	// queue: every event comes out once, in order, and the array stays near max.
	q := newEventQueue(8)
	next, want := 0, 0
	var got []zmtp.Event
	for round := range 1000 {
		for len(q.items)-q.head < 8 {
			next++
			q.push(zmtp.Event{RoutingID: zmtp.RoutingID(next)})
		}
		var more bool
		got, more = q.take(got[:0], 1+round%3)
		if !more {
			t.Fatalf("round %d: the queue drained", round)
		}
		for _, ev := range got {
			want++
			if ev.RoutingID != zmtp.RoutingID(want) {
				t.Fatalf("round %d: got event %d, want %d", round, ev.RoutingID, want)
			}
		}
		if cap(q.items) > 32 {
			t.Fatalf("round %d: the array grew to %d for a bound of 8", round, cap(q.items))
		}
	}
	rest, more := q.take(nil, 100)
	if more || len(rest) != next-want || (len(rest) > 0 && rest[0].RoutingID != zmtp.RoutingID(want+1)) {
		t.Fatalf("final take: %d events (more %v), want %d from %d", len(rest), more, next-want, want+1)
	}
}
