package server

import (
	"bufio"
	"encoding/binary"
	"io"
	"net"
	"strings"
	"testing"
	"time"
)

// pingsWithin connects a raw ZMTP 3.1 CLIENT to endpoint, sends nothing after its
// READY, and counts the PING commands the member sends during d.
func pingsWithin(t *testing.T, endpoint string, d time.Duration) int {
	t.Helper()
	nc, err := net.Dial("tcp", strings.TrimPrefix(endpoint, "tcp://"))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	greeting := make([]byte, 64)
	greeting[0], greeting[9], greeting[10], greeting[11] = 0xFF, 0x7F, 3, 1
	copy(greeting[12:], "NULL")
	ready := append([]byte{5}, "READY"...)
	ready = append(ready, 11)
	ready = append(ready, "Socket-Type"...)
	ready = binary.BigEndian.AppendUint32(ready, 6)
	ready = append(ready, "CLIENT"...)
	out := append(greeting, 0x04, byte(len(ready)))
	if _, err := nc.Write(append(out, ready...)); err != nil {
		t.Fatal(err)
	}
	r := bufio.NewReader(nc)
	if _, err := io.ReadFull(r, make([]byte, 64)); err != nil {
		t.Fatal(err)
	}
	_ = nc.SetReadDeadline(time.Now().Add(d))
	pings := 0
	for {
		flags, err := r.ReadByte()
		if err != nil {
			return pings // the deadline
		}
		size := 0
		if flags&0x02 != 0 {
			var b [8]byte
			if _, err := io.ReadFull(r, b[:]); err != nil {
				return pings
			}
			size = int(binary.BigEndian.Uint64(b[:]))
		} else {
			b, err := r.ReadByte()
			if err != nil {
				return pings
			}
			size = int(b)
		}
		body := make([]byte, size)
		if _, err := io.ReadFull(r, body); err != nil {
			return pings
		}
		if flags&0x04 != 0 && size > 5 && string(body[1:5]) == "PING" {
			pings++
		}
	}
}

func TestClientHeartbeatSetsThePingInterval(t *testing.T) {
	checkLeaks(t)
	for _, tc := range []struct {
		every    time.Duration
		min, max int
	}{
		{100 * time.Millisecond, 4, 15}, // about 10 in a second, with room for a loaded machine
		{0, 0, 0},                       // the default, 5 s: none in a second
	} {
		cl := newCluster(t, 1, func(c *Config) { c.ClientHeartbeat = tc.every }, nil)
		if n := pingsWithin(t, cl.members[0].srv.ClientEndpoint(), time.Second); n < tc.min || n > tc.max {
			t.Errorf("ClientHeartbeat %v: %d PINGs in 1s, want %d..%d", tc.every, n, tc.min, tc.max)
		}
		cl.kill(cl.members[0])
	}
}
