package integration

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/zraft/zraft/adapters/zmtp"
	"github.com/zraft/zraft/client"
	"github.com/zraft/zraft/client/kv"
	"github.com/zraft/zraft/protocol"
)

// Session timing of every test cluster: short enough that expiry scenarios finish in
// seconds, long enough for a client to fail over on a loaded machine.
const (
	sessionTimeout = 10 * time.Second
	leaderGrace    = 5 * time.Second
)

var clusterFlags = []string{
	"--session-timeout=" + sessionTimeout.String(),
	"--leader-grace=" + leaderGrace.String(),
	"--redelivery-base=500ms",
	"--redelivery-max=2s",
}

// newCluster starts a 3-member cluster for t (skipping when Docker is not used) and a
// context bounding the whole test.
func newCluster(t *testing.T, timeout time.Duration) (*Cluster, context.Context) {
	t.Helper()
	needDocker(t)
	checkNoClientLeaks(t)
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	t.Cleanup(cancel)
	start := time.Now()
	c := StartCluster(ctx, t, suite.docker, suite.image, Options{Members: 3, Flags: clusterFlags})
	t.Logf("cluster ready in %v", time.Since(start).Round(time.Millisecond))
	return c, ctx
}

// clientOptions fail over quickly: a silent connection is given up after 4 s.
func clientOptions(extra ...client.Option) []client.Option {
	return append([]client.Option{
		client.WithKeepAlive(500*time.Millisecond, 4*time.Second),
		client.WithConnectTimeout(2 * time.Second),
		client.WithBackoff(100*time.Millisecond, time.Second),
	}, extra...)
}

// dial opens a session on c, closed at cleanup.
func dial(ctx context.Context, t *testing.T, c *Cluster, endpoints string, opts ...client.Option) *client.Client {
	t.Helper()
	if endpoints == "" {
		endpoints = c.Endpoints()
	}
	dctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	cl, err := client.Dial(dctx, endpoints, clientOptions(opts...)...)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() {
		cctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = cl.Close(cctx)
	})
	return cl
}

func sessionID(ctx context.Context, t *testing.T, cl *client.Client) string {
	t.Helper()
	st, err := cl.Status(ctx)
	if err != nil {
		t.Fatalf("status: %v", err)
	}
	return st.SessionID
}

// nextNotification waits for the next server request of cl and decodes it.
func nextNotification(ctx context.Context, t *testing.T, cl *client.Client, within time.Duration) kv.Notification {
	t.Helper()
	select {
	case r, ok := <-cl.ServerRequests():
		if !ok {
			t.Fatal("server requests channel closed")
		}
		n, err := kv.ParseNotification(r)
		if err != nil {
			t.Fatal(err)
		}
		return n
	case <-time.After(within):
		t.Fatalf("no notification within %v", within)
	case <-ctx.Done():
		t.Fatalf("no notification: %v", ctx.Err())
	}
	return kv.Notification{}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// checkNoClientLeaks fails the test if goroutines of the client or its transport are
// left once the test's cleanups (which close every client) have run. It looks at stacks,
// not counts: the Docker client keeps idle HTTP connections of its own.
func checkNoClientLeaks(t *testing.T) {
	t.Helper()
	// Registered first, so it runs last, after the clients' Close.
	t.Cleanup(func() {
		var left []string
		for range 100 {
			left = clientGoroutines()
			if len(left) == 0 {
				return
			}
			time.Sleep(100 * time.Millisecond)
		}
		t.Errorf("%d client goroutines left after the test:\n%s", len(left), strings.Join(left, "\n\n"))
	})
}

func clientGoroutines() []string {
	buf := make([]byte, 1<<20)
	buf = buf[:runtime.Stack(buf, true)]
	var out []string
	for g := range strings.SplitSeq(string(buf), "\n\n") {
		if strings.Contains(g, "github.com/zraft/zraft/client.") || strings.Contains(g, "github.com/zraft/zraft/adapters/zmtp.") {
			out = append(out, g)
		}
	}
	return out
}

// continueSession sends a raw ContinueSession for id to the member at endpoint, as a
// client that kept the id would, and returns the member's answer.
func continueSession(ctx context.Context, endpoint, id string) (protocol.ServerMessage, error) {
	zc, err := zmtp.NewClient()
	if err != nil {
		return nil, err
	}
	defer zc.Close()
	if err := zc.Connect(endpoint); err != nil {
		return nil, err
	}
	b, err := protocol.AppendClientMessage(nil, &protocol.ContinueSession{SessionID: protocol.SessionID(id), Nonce: 4242})
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	for {
		ev, err := zc.Recv(ctx)
		if err != nil {
			return nil, err
		}
		switch ev.Kind {
		case zmtp.EventUp:
			if err := zc.Send(ctx, b); err != nil {
				return nil, err
			}
		case zmtp.EventMessage:
			m, err := protocol.DecodeServerMessage(ev.Data)
			if err != nil {
				return nil, err
			}
			switch m.(type) {
			case *protocol.SessionRejected, *protocol.SessionContinued, *protocol.SessionClosed:
				return m, nil
			}
		}
	}
}

// expectContinueRejected checks that the leader refuses to continue session id.
func expectContinueRejected(ctx context.Context, t *testing.T, c *Cluster, id string) {
	t.Helper()
	l, err := c.Leader(ctx)
	must(t, err)
	m, err := continueSession(ctx, l.ClientEndpoint(), id)
	must(t, err)
	rej, ok := m.(*protocol.SessionRejected)
	if !ok {
		t.Fatalf("ContinueSession(%s) answered %T %+v, want SessionRejected", id, m, m)
	}
	if rej.Reason != protocol.RejectSessionExpired {
		t.Fatalf("ContinueSession(%s) rejected for %v, want SessionExpired", id, rej.Reason)
	}
	t.Logf("ContinueSession(%s) rejected: %v", id, rej.Reason)
}

// waitSessions waits until the leader's replicated state holds want sessions.
func waitSessions(ctx context.Context, t *testing.T, c *Cluster, want int, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	last := -1
	for time.Now().Before(deadline) {
		if l, err := c.Leader(ctx); err == nil {
			if st, err := l.Status(ctx); err == nil {
				last = st.Sessions
				if last == want {
					return
				}
			}
		}
		time.Sleep(250 * time.Millisecond)
	}
	t.Fatalf("leader holds %d sessions after %v, want %d", last, within, want)
}

// The helper process: a client that watches a key, reports what it gets on stdout and
// never closes; the tests SIGKILL it to make a client vanish.
const helperEnv = "ZRAFT_IT_HELPER"

func runHelper() int {
	ctx := context.Background()
	cl, err := client.Dial(ctx, os.Getenv("ZRAFT_IT_ENDPOINTS"), clientOptions(client.WithCapability("role", "worker"))...)
	if err != nil {
		fmt.Println("error", err)
		return 1
	}
	st, err := cl.Status(ctx)
	if err != nil {
		fmt.Println("error", err)
		return 1
	}
	fmt.Println("session", st.SessionID)
	if key := os.Getenv("ZRAFT_IT_WATCH"); key != "" {
		if err := kv.New(cl).Watch(ctx, key); err != nil {
			fmt.Println("error", err)
			return 1
		}
	}
	fmt.Println("ready")
	for r := range cl.ServerRequests() {
		n, err := kv.ParseNotification(r)
		if err != nil {
			fmt.Println("error", err)
			continue
		}
		fmt.Println("note", n.ID, n.Key, n.Value)
	}
	return 0
}

// vanishingClient runs the helper process: a client with a session (watching key if not
// empty) that the test can SIGKILL. It returns the process and its session id.
func vanishingClient(ctx context.Context, t *testing.T, c *Cluster, key string) (*exec.Cmd, string) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), helperEnv+"=1", "ZRAFT_IT_ENDPOINTS="+c.Endpoints(), "ZRAFT_IT_WATCH="+key)
	out, err := cmd.StdoutPipe()
	must(t, err)
	cmd.Stderr = os.Stderr
	must(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	lines := make(chan string, 1024) // the helper prints a few lines only
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	var id string
	for {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatal("helper process ended before it was ready")
			}
			if s, ok := strings.CutPrefix(l, "session "); ok {
				id = s
			}
			if strings.HasPrefix(l, "error") {
				t.Fatalf("helper: %s", l)
			}
			if l == "ready" {
				return cmd, id
			}
		case <-ctx.Done():
			t.Fatal(errors.Join(errors.New("helper process not ready"), ctx.Err()))
		}
	}
}

// countSessions returns the number of sessions the leader's state holds.
func countSessions(ctx context.Context, t *testing.T, c *Cluster) int {
	t.Helper()
	l, err := c.Leader(ctx)
	must(t, err)
	st, err := l.Status(ctx)
	must(t, err)
	return st.Sessions
}
