package client

import (
	"errors"
	"strconv"
	"testing"

	"github.com/zraft/zraft/client/internal/testserver"
)

// sizedApp answers every command and query with as many bytes as the payload says.
type sizedApp struct{}

func (sizedApp) Apply(_ string, payload []byte, _ func(string, []byte)) []byte {
	return sized(payload)
}
func (sizedApp) Query(_ string, payload []byte) []byte { return sized(payload) }
func (sizedApp) SessionEnded(string)                   {}

func sized(payload []byte) []byte {
	n, err := strconv.Atoi(string(payload))
	if err != nil {
		return []byte(err.Error())
	}
	return make([]byte, n)
}

// An answer larger than WithMaxMessageSize fails its call with ErrResultTooLarge; the
// session stays on its connection (it does not reconnect to fetch the same answer
// forever) and serves the next calls.
func TestResultTooLarge(t *testing.T) {
	checkLeaks(t)
	ctx := ctxT(t)
	cl := startCluster(t, testserver.Config{App: sizedApp{}, Extensions: true})
	c := dial(t, cl.Endpoints(), WithMaxMessageSize(64<<10))
	if _, err := c.Submit(ctx, []byte("100000")); !errors.Is(err, ErrResultTooLarge) {
		t.Fatalf("large command result: %v", err)
	}
	if _, err := c.Query(ctx, []byte("100000")); !errors.Is(err, ErrResultTooLarge) {
		t.Fatalf("large query result: %v", err)
	}
	res, err := c.Submit(ctx, []byte("1000"))
	if err != nil || len(res) != 1000 {
		t.Fatalf("small result: %d bytes, %v", len(res), err)
	}
	for {
		select {
		case ev := <-c.Events():
			if ev.Kind != EventConnected {
				t.Fatalf("event %v (%s): the session should have stayed on its connection", ev.Kind, ev.Reason)
			}
			continue
		default:
		}
		break
	}
	if st := status(t, c); !st.Connected || st.Pending != 0 {
		t.Fatalf("status %+v", st)
	}
}
