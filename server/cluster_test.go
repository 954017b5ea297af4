package server

import (
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/zraft/zraft/domain/session"
	"github.com/zraft/zraft/protocol"
	"github.com/zraft/zraft/protocol/kvwire"
)

func TestCreateViaFollowerIsRedirected(t *testing.T) {
	checkLeaks(t)
	ctx := ctxFor(t, 60*time.Second)
	cl := newCluster(t, 3, nil, nil)
	leader := cl.leader(ctx)
	follower := cl.follower(ctx)

	c := dial(ctx, t, follower.srv.ClientEndpoint())
	if err := c.send(ctx, &protocol.CreateSession{Capabilities: protocol.Capabilities{{Key: "app", Value: "t"}}, Nonce: 7}); err != nil {
		t.Fatal(err)
	}
	m, err := c.recv(ctx)
	if err != nil {
		t.Fatal(err)
	}
	rej, ok := m.(*protocol.SessionRejected)
	// The hint names the leader (on a loaded machine leadership may have moved since).
	if !ok || rej.Reason != protocol.RejectNotLeader || rej.Nonce != 7 || !rej.HasLeader ||
		cl.endpoints[string(rej.Leader)] == "" || string(rej.Leader) == follower.srv.ID() {
		t.Fatalf("follower answered %#v, want SessionRejected(NotLeader, nonce 7, leader %s)", m, leader.srv.ID())
	}
	// The follower closes the connection after the rejection.
	if _, err := c.recv(ctx); err != errDown {
		t.Fatalf("after the rejection: %v, want the connection closed", err)
	}

	// The hint names the leader; its endpoint is in the replicated member list.
	endpoint := cl.endpoints[string(rej.Leader)]
	c.connect(ctx, endpoint)
	if err := c.send(ctx, &protocol.CreateSession{Capabilities: protocol.Capabilities{{Key: "app", Value: "t"}}, Nonce: 8}); err != nil {
		t.Fatal(err)
	}
	m, err = c.recv(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if r, ok := m.(*protocol.SessionRejected); ok && r.Reason == protocol.RejectNotLeader && string(rej.Leader) != cl.leader(ctx).srv.ID() {
		t.Skipf("leadership moved during the test (%s -> %s)", rej.Leader, cl.leader(ctx).srv.ID())
	}
	created, ok := m.(*protocol.SessionCreated)
	if !ok || created.Nonce != 8 || created.SessionID == "" {
		t.Fatalf("leader answered %#v, want SessionCreated(nonce 8)", m)
	}
	eventually(t, 10*time.Second, "the session on every member", func() bool {
		for _, m := range cl.members {
			if !hasSession(m, string(created.SessionID)) {
				return false
			}
		}
		return true
	})
}

// Commands are applied exactly once while the leader is killed mid-stream: the client
// continues on the new leader and re-sends what was pending; the retries are answered
// from the response cache, not run again.
// It runs with the transport's epoll poller (the default) and with a goroutine per
// client connection (Config.DisableClientPoller).
func TestExactlyOnceAcrossLeaderKill(t *testing.T) {
	for _, disable := range []bool{false, true} {
		t.Run(fmt.Sprintf("DisableClientPoller=%v", disable), func(t *testing.T) {
			exactlyOnceAcrossLeaderKill(t, func(c *Config) { c.DisableClientPoller = disable })
		})
	}
}

func exactlyOnceAcrossLeaderKill(t *testing.T, tune func(*Config)) {
	checkLeaks(t)
	ctx := ctxFor(t, 120*time.Second)
	apps := map[*counterApp]bool{}
	cl := newCluster(t, 3, tune, func() session.Application {
		a := &counterApp{}
		apps[a] = true
		return a
	})
	s := newSession(ctx, t, cl)
	const total, window = 200, 20
	killAt := total / 2
	next := protocol.RequestID(1)
	killed, inFlight := false, 0
	for len(s.answers) < total {
		for len(s.pending) < window && next <= total {
			s.submit(ctx, next, []byte("incr"))
			next++
		}
		if !killed && len(s.answers) >= killAt {
			killed = true
			inFlight = len(s.pending)
			cl.kill(cl.leader(ctx)) // requests are in flight right now
		}
		s.step(ctx)
	}
	if s.reconnects == 0 || inFlight == 0 {
		t.Fatalf("continued %d times, %d requests in flight at the kill: the failover was not exercised", s.reconnects, inFlight)
	}
	t.Logf("%d requests in flight when the leader was killed, re-sent after %d continue(s)", inFlight, s.reconnects)
	// Every increment ran once: the replies are exactly 1..total.
	seen := map[string]bool{}
	for id, a := range s.answers {
		if seen[string(a)] {
			t.Fatalf("reply %q twice (request %d)", a, id)
		}
		seen[string(a)] = true
	}
	for i := 1; i <= total; i++ {
		if !seen[strconv.Itoa(i)] {
			t.Fatalf("no reply %d: some command ran twice or never", i)
		}
	}
	eventually(t, 10*time.Second, "every live member at the same count", func() bool {
		n := 0
		for a := range apps {
			if a.value() == total {
				n++
			}
		}
		return n >= 2
	})
}

// A session expires after the timeout without activity, and not before: keep-alives
// keep it, then the expiry comes no sooner than SessionTimeout after the last one.
func TestSessionExpiresAfterTimeoutAndNotBefore(t *testing.T) {
	checkLeaks(t)
	ctx := ctxFor(t, 60*time.Second)
	const timeout = 3 * time.Second
	cl := newCluster(t, 3, func(c *Config) {
		c.SessionTimeout = timeout
		c.LeaderGrace = 500 * time.Millisecond
		c.FlushInterval = 200 * time.Millisecond
		c.RedeliveryInterval = 100 * time.Millisecond
	}, nil)
	s := newSession(ctx, t, cl)
	id := string(s.id)

	// Keep-alives for twice the timeout: the session lives.
	var last time.Time
	for end := time.Now().Add(2 * timeout); time.Now().Before(end); time.Sleep(250 * time.Millisecond) {
		if err := s.conn.send(ctx, &protocol.KeepAlive{Timestamp: protocol.Timestamp(time.Now().UnixMilli())}); err != nil {
			t.Fatal(err)
		}
		last = time.Now()
		if !hasSession(cl.leader(ctx), id) {
			t.Fatal("session expired while keeping alive")
		}
	}
	// Idle: it goes, SessionTimeout or more after the last keep-alive.
	leader := cl.leader(ctx)
	eventually(t, 20*time.Second, "expiry", func() bool { return !hasSession(leader, id) })
	if idle := time.Since(last); idle < timeout {
		t.Fatalf("expired %v after the last keep-alive, before the %v timeout", idle, timeout)
	}
	// The client owning it is told.
	m, err := s.conn.recv(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if sc, ok := m.(*protocol.SessionClosed); !ok || sc.Reason != protocol.CloseSessionExpired {
		// a KeepAliveResponse may come first
		for ok := true; ok; {
			if _, isKA := m.(*protocol.KeepAliveResponse); !isKA {
				break
			}
			if m, err = s.conn.recv(ctx); err != nil {
				t.Fatal(err)
			}
		}
		if sc, ok := m.(*protocol.SessionClosed); !ok || sc.Reason != protocol.CloseSessionExpired {
			t.Fatalf("got %#v, want SessionClosed(SessionExpired)", m)
		}
	}
}

// The expiry time survives a leader change: the new leader neither resets the idle
// session's activity (it would expire a full timeout after the new leader started) nor
// expires it during its grace period.
func TestExpiryKeptAcrossLeaderChange(t *testing.T) {
	checkLeaks(t)
	ctx := ctxFor(t, 60*time.Second)
	const timeout, grace = 4 * time.Second, 500 * time.Millisecond
	cl := newCluster(t, 3, func(c *Config) {
		c.SessionTimeout = timeout
		c.LeaderGrace = grace
		c.FlushInterval = 200 * time.Millisecond
		c.RedeliveryInterval = 100 * time.Millisecond
	}, nil)
	s := newSession(ctx, t, cl)
	id := string(s.id)
	created := time.Now() // the last activity is the creation, at or before this
	time.Sleep(time.Second)
	old := cl.leader(ctx)
	cl.kill(old)
	nl := cl.leader(ctx)
	led := time.Now() // the new leader started at or before this
	if !hasSession(nl, id) {
		t.Fatal("the session did not survive the leader change")
	}
	eventually(t, 20*time.Second, "expiry on the new leader", func() bool { return !hasSession(nl, id) })
	gone := time.Now()
	if gone.Sub(created) < timeout-200*time.Millisecond { // creation stamped just before `created`
		t.Fatalf("expired %v after creation, before the %v timeout", gone.Sub(created), timeout)
	}
	if gone.Sub(led) >= timeout {
		t.Fatalf("expired %v after the new leader started: its activity was reset", gone.Sub(led))
	}
}

// Watch notifications arrive in order and, after dropping redeliveries by sequence
// number, exactly once, while the leader is killed between writes.
func TestWatchNotificationsAcrossFailover(t *testing.T) {
	checkLeaks(t)
	ctx := ctxFor(t, 120*time.Second)
	cl := newCluster(t, 3, func(c *Config) {
		c.RedeliveryBase = 300 * time.Millisecond
		c.RedeliveryInterval = 100 * time.Millisecond
	}, nil)
	watcher := newSession(ctx, t, cl)
	writer := newSession(ctx, t, cl)
	cmd := func(c kvwire.Command) []byte {
		b, err := kvwire.AppendCommand(nil, c)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	watcher.submit(ctx, 1, cmd(kvwire.Watch{Key: "k"}))
	watcher.runUntil(ctx, "watch applied", func() bool { return len(watcher.pending) == 0 })

	const writes = 60
	for i := 1; i <= writes; i++ {
		writer.submit(ctx, protocol.RequestID(i), cmd(kvwire.Set{Key: "k", Value: strconv.Itoa(i)}))
		writer.runUntil(ctx, "set applied", func() bool { return len(writer.pending) == 0 })
		if i == writes/2 {
			cl.kill(cl.leader(ctx))
		}
		for len(watcher.requests) < i { // the key had no value when watched: nothing then
			watcher.step(ctx)
		}
	}
	var values []string
	for _, r := range watcher.requests {
		n, err := kvwire.DecodeNotification(r.Payload)
		if err != nil {
			t.Fatal(err)
		}
		if n.Key != "k" {
			t.Fatalf("notification of key %q", n.Key)
		}
		values = append(values, n.Value)
	}
	if len(values) != writes {
		t.Fatalf("%d notifications, want %d: %v", len(values), writes, values)
	}
	for i, v := range values {
		if v != strconv.Itoa(i+1) {
			t.Fatalf("notification %d is %q, want %d: %v", i+1, v, i+1, values)
		}
	}
	t.Logf("%d notifications in order, %d redelivered duplicates dropped, %d continues", len(values), watcher.duplicates, watcher.reconnects)
}

// A client sending a malformed frame is disconnected; the others carry on undisturbed.
func TestMalformedFrameAffectsOnlyItsConnection(t *testing.T) {
	checkLeaks(t)
	ctx := ctxFor(t, 60*time.Second)
	cl := newCluster(t, 3, nil, func() session.Application { return &counterApp{} })
	good := newSession(ctx, t, cl)
	bad := newSession(ctx, t, cl)
	const total = 100
	for i := 1; i <= total; i++ {
		good.submit(ctx, protocol.RequestID(i), []byte("incr"))
		if i == total/2 {
			if err := bad.conn.sendRaw(ctx, []byte("zraft? no: garbage that is not a client message")); err != nil {
				t.Fatal(err)
			}
		}
	}
	good.runUntil(ctx, "all answers", func() bool { return len(good.answers) == total })
	if good.reconnects != 0 {
		t.Fatalf("the good client had to reconnect %d times", good.reconnects)
	}
	if _, err := bad.conn.recv(ctx); err != errDown {
		t.Fatalf("the bad client: %v, want its connection closed", err)
	}
	leader := cl.leader(ctx)
	if st := leader.srv.loop.stats.Load(); st == nil || st.Malformed == 0 {
		t.Fatalf("malformed frame not counted: %+v", st)
	}
}

// A gracefully stopped leader hands over leadership and points its clients to the new
// leader, where their sessions continue.
func TestGracefulShutdownHandsOver(t *testing.T) {
	checkLeaks(t)
	ctx := ctxFor(t, 60*time.Second)
	cl := newCluster(t, 3, nil, func() session.Application { return &counterApp{} })
	s := newSession(ctx, t, cl)
	old := cl.leader(ctx)
	old.down = true // cl.leader looks at the others from now on
	old.cancel()
	m, err := s.conn.recv(ctx)
	if err != nil {
		t.Fatal(err)
	}
	sc, ok := m.(*protocol.SessionClosed)
	if !ok || (sc.Reason != protocol.CloseNotLeaderAnymore && sc.Reason != protocol.CloseShutdown) {
		t.Fatalf("got %#v, want SessionClosed(NotLeaderAnymore or Shutdown)", m)
	}
	if !sc.HasLeader || sc.Leader == "" || string(sc.Leader) == old.srv.ID() {
		t.Fatalf("goodbye %#v does not name the new leader", sc)
	}
	s.resume(ctx)
	s.submit(ctx, 1, []byte("incr"))
	s.runUntil(ctx, "answer on the new leader", func() bool { return len(s.answers) == 1 })
	if err := <-old.done; err != nil {
		t.Fatalf("Run after a graceful stop: %v", err)
	}
}
