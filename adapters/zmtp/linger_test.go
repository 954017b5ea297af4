package zmtp

import (
	"testing"
	"time"
)

// The adaptive linger (lingerState): how long a polled connection waits for its peer's
// next message follows the peer's quiet gaps.
func TestLingerFollowsGaps(t *testing.T) {
	ms := int64(time.Millisecond)
	var g lingerState
	now := int64(1_000_000) * ms

	// A new connection: nothing measured yet, the minimum.
	if d := g.quiet(now); d != minPollLinger {
		t.Fatalf("first linger %v, want %v", d, minPollLinger)
	}
	// A busy peer, 20 ms between its messages: the linger covers the gap, and not
	// much more once the gaps are regular.
	for range 40 {
		now += 20 * ms
		g.message(now)
		g.quiet(now)
	}
	if d := g.quiet(now); d < 20*time.Millisecond || d > 25*time.Millisecond {
		t.Fatalf("linger after regular 20 ms gaps %v, want 20-25ms", d)
	}
	// Irregular gaps (10 and 50 ms): the linger covers the longer ones.
	for i := range 40 {
		now += int64(10+40*(i%2)) * ms
		g.message(now)
		g.quiet(now)
	}
	if d := g.quiet(now); d < 50*time.Millisecond || d > maxPollLinger {
		t.Fatalf("linger after 10 and 50 ms gaps %v, want 50ms-%v", d, maxPollLinger)
	}
	// A message with no quiet period before it (read in the same burst) changes
	// nothing.
	before := g
	g.quietAt = 0
	g.message(now + 500*ms)
	if g.gap != before.gap || g.dev != before.dev {
		t.Fatalf("a message without a gap changed the average: %+v, was %+v", g, before)
	}
	// The peer slows to a keep-alive a second: within a few messages no linger at all.
	n := 0
	for g.quiet(now) != 0 {
		if n++; n > 10 {
			t.Fatalf("still lingering %v after %d one-second gaps (average %v)", g.quiet(now), n, time.Duration(g.gap))
		}
		now += 1000 * ms
		g.message(now)
	}
	// And back: fast messages bring the linger back.
	n = 0
	for g.quiet(now) == 0 {
		if n++; n > 40 {
			t.Fatalf("no linger after %d 10 ms gaps (average %v)", n, time.Duration(g.gap))
		}
		now += 10 * ms
		g.message(now)
	}
	// Very short gaps: never below the minimum.
	for range 100 {
		g.quiet(now)
		now += 10_000 // 10 µs
		g.message(now)
	}
	if d := g.quiet(now); d != minPollLinger {
		t.Fatalf("linger after 10 µs gaps %v, want %v", d, minPollLinger)
	}
	// A clock that steps back counts as no gap, never a negative one.
	g.quiet(now)
	g.message(now - 1000*ms)
	if g.gap < 0 || g.dev < 0 {
		t.Fatalf("negative average gap or deviation: %+v", g)
	}
	// Never more than the maximum, however long the gaps (as long as they average
	// under maxPollGap).
	g = lingerState{}
	for range 20 {
		g.quiet(now)
		now += int64(maxPollGap) - ms
		g.message(now)
	}
	if d := g.quiet(now); d <= 0 || d > maxPollLinger {
		t.Fatalf("linger after gaps of %v: %v, want (0, %v]", maxPollGap-time.Millisecond, d, maxPollLinger)
	}
}
