package gateway

import (
	"errors"
	"testing"

	"github.com/zraft/zraft/domain/session"
	"github.com/zraft/zraft/protocol"
)

func TestConfigValidate(t *testing.T) {
	view := session.New(session.Config{}, testApp{})
	for name, cfg := range map[string]Config{
		"no view":             {},
		"negative flush":      {View: view, FlushInterval: -1},
		"negative redelivery": {View: view, RedeliveryInterval: -5},
		"negative size":       {View: view, MaxMessageSize: -1},
	} {
		if _, err := New(cfg); !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("%s: New error %v, want ErrInvalidConfig", name, err)
		}
	}
	g, err := New(Config{View: view})
	if err != nil {
		t.Fatal(err)
	}
	if g.cfg.FlushInterval != DefaultFlushInterval || g.cfg.RedeliveryInterval != DefaultRedeliveryInterval {
		t.Errorf("defaults not applied: %+v", g.cfg)
	}
	if g.IsLeader() {
		t.Error("a new gateway must not lead before LeadershipChanged says so")
	}
}

func TestNeedsSessionID(t *testing.T) {
	enc := func(m protocol.ClientMessage) []byte {
		b, err := protocol.AppendClientMessage(nil, m)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	create := enc(&protocol.CreateSession{Capabilities: protocol.Capabilities{{Key: "a", Value: "b"}}, Nonce: 1})
	cases := []struct {
		name string
		b    []byte
		want bool
	}{
		{"create", create, true},
		{"create header only", create[:protocol.HeaderSize], true},
		{"keepalive", enc(&protocol.KeepAlive{Timestamp: 1}), false},
		{"continue", enc(&protocol.ContinueSession{SessionID: "s", Nonce: 1}), false},
		{"short", create[:protocol.HeaderSize-1], false},
		{"bad signature", append([]byte("zrafT"), create[5:]...), false},
		{"nil", nil, false},
	}
	for _, c := range cases {
		if got := NeedsSessionID(c.b); got != c.want {
			t.Errorf("%s: NeedsSessionID = %v, want %v", c.name, got, c.want)
		}
	}
}

func TestStepMisuse(t *testing.T) {
	g, err := New(Config{View: session.New(session.Config{}, testApp{})})
	if err != nil {
		t.Fatal(err)
	}
	if err := g.Step(0, nil); !errors.Is(err, ErrUnknownInput) {
		t.Errorf("Step(nil) = %v, want ErrUnknownInput", err)
	}
	if err := g.Step(0, Applied{}); !errors.Is(err, ErrNoCommand) {
		t.Errorf("Step(Applied{}) = %v, want ErrNoCommand", err)
	}
	if err := g.Step(0, ProposalFailed{}); !errors.Is(err, ErrNoCommand) {
		t.Errorf("Step(ProposalFailed{}) = %v, want ErrNoCommand", err)
	}
	if out := g.Ready(); len(out) != 0 {
		t.Errorf("misuse produced outputs: %v", out)
	}
}

// TestTimeNeverGoesBack: proposals are stamped with the highest time seen, so a caller
// whose clock steps back cannot move log time backwards through the gateway.
func TestTimeNeverGoesBack(t *testing.T) {
	h, err := newHarness(Config{}, session.Config{}, func(string, ...any) {})
	if err != nil {
		t.Fatal(err)
	}
	if err := h.step(LeadershipChanged{IsLeader: true, Term: 1, Leader: "n1"}); err != nil {
		t.Fatal(err)
	}
	h.now = 5000
	b, _ := protocol.AppendClientMessage(nil, &protocol.CreateSession{Capabilities: protocol.Capabilities{{Key: "a", Value: "b"}}, Nonce: 1})
	if err := h.step(Message{RoutingID: 1, Bytes: b, NewSessionID: "s-1"}); err != nil {
		t.Fatal(err)
	}
	h.now = 10
	b, _ = protocol.AppendClientMessage(nil, &protocol.CreateSession{Capabilities: protocol.Capabilities{{Key: "a", Value: "b"}}, Nonce: 2})
	if err := h.step(Message{RoutingID: 2, Bytes: b, NewSessionID: "s-2"}); err != nil {
		t.Fatal(err)
	}
	if len(h.proposals) != 2 {
		t.Fatalf("%d proposals, want 2", len(h.proposals))
	}
	if at := h.proposals[1].(session.CreateSession).At; at != 5000 {
		t.Errorf("second proposal stamped %d, want 5000", at)
	}
}

// BenchmarkRequest measures one client request through the gateway and a real machine,
// as the server's loop runs it: decode and propose (Step, Ready), encode the log entry,
// decode and apply it, route the reply (Step(Applied), Ready). The reply's encoding and
// the transport are not included.
func BenchmarkRequest(b *testing.B) {
	m := session.New(session.Config{}, testApp{})
	g, err := New(Config{View: m})
	if err != nil {
		b.Fatal(err)
	}
	var index uint64
	var entry []byte
	// run carries out the outputs: proposals are committed at once; it returns the sends.
	run := func() int {
		sends := 0
		for _, o := range g.Ready() {
			switch o := o.(type) {
			case Send:
				sends++
			case Propose:
				entry, err = session.EncodeCommand(entry[:0], o.Command)
				if err != nil {
					b.Fatal(err)
				}
				cmd, err := session.DecodeCommand(entry)
				if err != nil {
					b.Fatal(err)
				}
				index++
				res, err := m.Apply(index, cmd)
				if err != nil {
					b.Fatal(err)
				}
				if err := g.Step(0, Applied{Command: cmd, Result: res}); err != nil {
					b.Fatal(err)
				}
			}
		}
		return sends
	}
	if err := g.Step(0, LeadershipChanged{IsLeader: true, Term: 1, Leader: "n1"}); err != nil {
		b.Fatal(err)
	}
	create, _ := protocol.AppendClientMessage(nil, &protocol.CreateSession{Capabilities: protocol.Capabilities{{Key: "a", Value: "b"}}, Nonce: 1})
	if err := g.Step(0, Message{RoutingID: 1, Bytes: create, NewSessionID: "s-1"}); err != nil {
		b.Fatal(err)
	}
	run()
	run()
	reqs := make([][]byte, b.N)
	for i := range reqs {
		id := protocol.RequestID(i + 1)
		reqs[i], _ = protocol.AppendClientMessage(nil, &protocol.ClientRequest{RequestID: id, LowestPendingRequestID: id, Payload: []byte("set k v")})
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		if err := g.Step(0, Message{RoutingID: 1, Bytes: reqs[i]}); err != nil {
			b.Fatal(err)
		}
		if run()+run() != 1 {
			b.Fatal("no reply")
		}
	}
}

// LastMessage hands out what the latest Step decoded, with the session of its
// connection, and nothing after any other input or a frame that did not decode.
func TestLastMessage(t *testing.T) {
	h, err := newHarness(Config{}, session.Config{}, func(string, ...any) {})
	if err != nil {
		t.Fatal(err)
	}
	enc := func(m protocol.ClientMessage) []byte {
		b, err := protocol.AppendClientMessage(nil, m)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	check := func(what string, wantSession string, want func(protocol.ClientMessage) bool) {
		t.Helper()
		m, s := h.g.LastMessage()
		if s != wantSession || !want(m) {
			t.Errorf("%s: LastMessage = %#v, %q", what, m, s)
		}
	}
	isNil := func(m protocol.ClientMessage) bool { return m == nil }
	create := enc(&protocol.CreateSession{Capabilities: protocol.Capabilities{{Key: "a", Value: "b"}}, Nonce: 1})

	// Not leading: the message decodes, no session.
	if err := h.step(Message{RoutingID: 9, Bytes: create, NewSessionID: "s-0"}); err != nil {
		t.Fatal(err)
	}
	check("follower", "", func(m protocol.ClientMessage) bool { _, ok := m.(*protocol.CreateSession); return ok })

	if err := h.step(LeadershipChanged{IsLeader: true, Term: 1, Leader: "n1"}); err != nil {
		t.Fatal(err)
	}
	check("leadership", "", isNil)
	if err := h.step(Message{RoutingID: 1, Bytes: create, NewSessionID: "s-1"}); err != nil {
		t.Fatal(err)
	}
	check("create", "", func(m protocol.ClientMessage) bool { _, ok := m.(*protocol.CreateSession); return ok })
	if err := h.commit(len(h.proposals)); err != nil {
		t.Fatal(err)
	}
	check("applied", "", isNil)
	if _, ok := h.g.SessionOf(1); !ok {
		t.Fatal("no session after create")
	}

	const tp = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
	req := enc(&protocol.ClientRequest{RequestID: 1, LowestPendingRequestID: 1, Payload: []byte("x"),
		Ext: &protocol.Extensions{TraceParent: tp}})
	if err := h.step(Message{RoutingID: 1, Bytes: req}); err != nil {
		t.Fatal(err)
	}
	check("request", "s-1", func(m protocol.ClientMessage) bool {
		r, ok := m.(*protocol.ClientRequest)
		return ok && r.RequestID == 1 && r.Ext != nil && r.Ext.TraceParent == tp
	})
	q := enc(&protocol.Query{CorrelationID: "c-1", Payload: []byte("y"), Ext: &protocol.Extensions{TraceParent: tp}})
	if err := h.step(Message{RoutingID: 1, Bytes: q}); err != nil {
		t.Fatal(err)
	}
	check("query", "s-1", func(m protocol.ClientMessage) bool {
		r, ok := m.(*protocol.Query)
		return ok && r.CorrelationID == "c-1" && r.Ext != nil && r.Ext.TraceParent == tp
	})
	if err := h.step(Message{RoutingID: 1, Bytes: req[:len(req)-1]}); err != nil {
		t.Fatal(err)
	}
	check("truncated", "", isNil)
	// The malformed frame closed connection 1: what it still sends is ignored.
	if err := h.step(Message{RoutingID: 1, Bytes: q}); err != nil {
		t.Fatal(err)
	}
	check("closing connection", "", isNil)
}
