package zmtp

import (
	"bytes"
	"context"
	"errors"
	"net"
	"runtime"
	"strings"
	"testing"
	"time"
)

// checkLeaks fails the test if goroutines started during it are still running after its
// cleanups (registered before this one) ran. Tests using it must not run in parallel.
func checkLeaks(t *testing.T) {
	t.Helper()
	before := runtime.NumGoroutine()
	t.Cleanup(func() {
		deadline := time.Now().Add(15 * time.Second)
		for {
			n := runtime.NumGoroutine()
			if n <= before {
				return
			}
			if time.Now().After(deadline) {
				buf := make([]byte, 1<<20)
				buf = buf[:runtime.Stack(buf, true)]
				t.Errorf("goroutine leak: %d before, %d after:\n%s", before, n, ownStacks(buf))
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
	})
}

// ownStacks keeps the goroutine dumps that mention this package.
func ownStacks(dump []byte) string {
	var out []string
	for _, g := range bytes.Split(dump, []byte("\n\n")) {
		if bytes.Contains(g, []byte("adapters/zmtp")) {
			out = append(out, string(g))
		}
	}
	return strings.Join(out, "\n\n")
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func listen(t *testing.T, opts ...Option) *Server {
	t.Helper()
	s, err := Listen(context.Background(), "tcp://127.0.0.1:0", append(serverModeOpts(), opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// echo answers every message with itself until the server closes. Other events go to
// the returned channel if it has room (tests that care read it).
func echo(s *Server) <-chan Event {
	others := make(chan Event, 10000)
	go func() {
		for {
			ev, err := s.Recv(context.Background())
			if err != nil {
				close(others)
				return
			}
			if ev.Kind == EventMessage {
				_ = s.Send(ev.RoutingID, ev.Data)
				continue
			}
			select {
			case others <- ev:
			default:
			}
		}
	}()
	return others
}

func newClient(t *testing.T, endpoint string, opts ...Option) *Client {
	t.Helper()
	c, err := NewClient(opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	if endpoint != "" {
		if err := c.Connect(endpoint); err != nil {
			t.Fatal(err)
		}
	}
	return c
}

// waitKind receives until an event of kind arrives, failing on ctx expiry.
func waitKind(t *testing.T, ctx context.Context, recv func(context.Context) (Event, error), kind EventKind) Event {
	t.Helper()
	for {
		ev, err := recv(ctx)
		if err != nil {
			t.Fatalf("waiting for %v: %v", kind, err)
		}
		if ev.Kind == kind {
			return ev
		}
	}
}

// roundTrip sends msg and waits for the same bytes back.
func roundTrip(ctx context.Context, c *Client, msg []byte) error {
	if err := c.Send(ctx, msg); err != nil {
		return err
	}
	for {
		ev, err := c.Recv(ctx)
		if err != nil {
			return err
		}
		switch ev.Kind {
		case EventMessage:
			if !bytes.Equal(ev.Data, msg) {
				return errors.New("reply differs from request")
			}
			return nil
		case EventDown:
			return ev.Reason
		}
	}
}

// rawPeer is a hand-driven TCP peer for protocol tests.
type rawPeer struct {
	net.Conn
	fr *frameReader
}

func dialRaw(t *testing.T, addr string) *rawPeer {
	t.Helper()
	nc, err := net.DialTimeout("tcp", strings.TrimPrefix(addr, "tcp://"), 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = nc.Close() })
	_ = nc.SetDeadline(time.Now().Add(30 * time.Second))
	return &rawPeer{Conn: nc, fr: newFrameReader(nc, 1<<20)}
}

// handshakeAs greets and sends READY announcing socketType, then reads the server's
// greeting and READY (or ERROR).
func (p *rawPeer) handshakeAs(socketType string) (frame, error) {
	out := appendGreeting(nil, false)
	out = appendCommand(out, cmdReady, appendMetadata(nil, property{propSocketType, []byte(socketType)}))
	if _, err := p.Write(out); err != nil {
		return frame{}, err
	}
	var g [greetingSize]byte
	if _, err := p.fr.r.Read(g[:1]); err != nil {
		return frame{}, err
	}
	if _, err := readFull(p.fr, g[1:]); err != nil {
		return frame{}, err
	}
	if _, err := parseGreeting(g[:]); err != nil {
		return frame{}, err
	}
	return p.fr.next()
}

func readFull(fr *frameReader, b []byte) (int, error) {
	n := 0
	for n < len(b) {
		m, err := fr.r.Read(b[n:])
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

// expectClosed reads until the connection ends, failing if it stays open.
func (p *rawPeer) expectClosed(t *testing.T) {
	t.Helper()
	_ = p.SetReadDeadline(time.Now().Add(30 * time.Second))
	for {
		if _, err := p.fr.next(); err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				t.Fatal("server did not close the connection")
			}
			return
		}
	}
}
