package server

import (
	"strconv"
	"testing"
	"time"

	"github.com/zraft/zraft/domain/session"
	"github.com/zraft/zraft/protocol"
)

// Pipelined commands of one session apply in the order the client sent them: with only
// this session incrementing the counter, request i must see the counter at i.
func TestPipelinedCommandsApplyInSendOrder(t *testing.T) {
	checkLeaks(t)
	ctx := ctxFor(t, 120*time.Second)
	cl := newCluster(t, 3, nil, func() session.Application { return &counterApp{} })
	s := newSession(ctx, t, cl)
	const total, window = 400, 64
	next := protocol.RequestID(1)
	for len(s.answers) < total {
		for len(s.pending) < window && next <= total {
			s.submit(ctx, next, []byte("incr"))
			next++
		}
		s.step(ctx)
	}
	for id := protocol.RequestID(1); id <= total; id++ {
		if got, want := string(s.answers[id]), strconv.Itoa(int(id)); got != want {
			t.Fatalf("request %d applied as increment %s: commands of one session applied out of send order", id, got)
		}
	}
}
