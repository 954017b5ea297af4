package clientsession_test

import (
	"bytes"
	"errors"
	"testing"

	"github.com/zraft/zraft/domain/clientsession"
	"github.com/zraft/zraft/protocol"
)

func baseConfig() clientsession.Config {
	return clientsession.Config{
		Members:      []protocol.Member{{ID: "a", Endpoint: "tcp://a:1"}, {ID: "b", Endpoint: "tcp://b:1"}},
		Capabilities: protocol.Capabilities{{Key: "app", Value: "kv"}},
	}
}

func TestConfigValidate(t *testing.T) {
	cases := []struct {
		name string
		edit func(*clientsession.Config)
		ok   bool
	}{
		{"defaults", func(*clientsession.Config) {}, true},
		{"extensions without capabilities", func(c *clientsession.Config) { c.Capabilities, c.Extensions = nil, true }, true},
		{"no members", func(c *clientsession.Config) { c.Members = nil }, false},
		{"empty endpoint", func(c *clientsession.Config) { c.Members[1].Endpoint = "" }, false},
		{"duplicate member", func(c *clientsession.Config) { c.Members[1].ID = "a" }, false},
		{"too many members", func(c *clientsession.Config) { c.MaxMembers = 1 }, false},
		{"no capabilities", func(c *clientsession.Config) { c.Capabilities = nil }, false},
		{"reserved capability", func(c *clientsession.Config) {
			c.Capabilities = append(c.Capabilities, protocol.Capability{Key: protocol.ExtensionCapabilityKey, Value: "1"})
		}, false},
		{"invalid utf-8 capability", func(c *clientsession.Config) { c.Capabilities[0].Key = "\xff" }, false},
		{"timeout not above interval", func(c *clientsession.Config) { c.KeepAliveInterval, c.KeepAliveTimeout = 500, 400 }, false},
		{"negative connect timeout", func(c *clientsession.Config) { c.ConnectTimeout = -1 }, false},
		{"backoff max below base", func(c *clientsession.Config) { c.BackoffBase, c.BackoffMax = 500, 100 }, false},
		{"negative bound", func(c *clientsession.Config) { c.MaxPending = -1 }, false},
		{"huge duration", func(c *clientsession.Config) { c.ConnectTimeout = 1 << 62 }, false},
		{"resend disabled", func(c *clientsession.Config) { c.ResendInterval = -1 }, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := baseConfig()
			tc.edit(&cfg)
			err := cfg.Validate()
			if tc.ok != (err == nil) {
				t.Fatalf("Validate() = %v, want ok=%v", err, tc.ok)
			}
			if err != nil && !errors.Is(err, clientsession.ErrInvalidConfig) {
				t.Fatalf("error %v does not wrap ErrInvalidConfig", err)
			}
			if _, nerr := clientsession.New(cfg); (nerr == nil) != (err == nil) {
				t.Fatalf("New and Validate disagree: %v vs %v", nerr, err)
			}
		})
	}
}

// connected returns an engine with session s1 live on connection 1.
func connected(t testing.TB, cfg clientsession.Config) *clientsession.Engine {
	t.Helper()
	e, err := clientsession.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	e.Tick(0)
	mustStep(t, e, 0, clientsession.ConnectionUp{Conn: 1, Nonce: 5})
	mustStep(t, e, 0, received(1, &protocol.SessionCreated{SessionID: "s1", Nonce: 5}))
	if e.State() != clientsession.StateConnected {
		t.Fatalf("state %v, want connected", e.State())
	}
	return e
}

func mustStep(t testing.TB, e *clientsession.Engine, now int64, in clientsession.Input) []clientsession.Output {
	t.Helper()
	out, err := e.Step(now, in)
	if err != nil {
		t.Fatalf("Step(%#v): %v", in, err)
	}
	return out
}

func received(conn clientsession.ConnID, m protocol.ServerMessage) clientsession.Received {
	b, err := protocol.AppendServerMessage(nil, m)
	if err != nil {
		panic(err)
	}
	return clientsession.Received{Conn: conn, Bytes: b}
}

// The engine keeps no reference to input bytes: the shell may reuse its buffers.
func TestOutputsDoNotAliasInputs(t *testing.T) {
	e := connected(t, baseConfig())
	payload := []byte("payload")
	out := mustStep(t, e, 1, clientsession.Submit{Handle: 1, Payload: payload})
	copy(payload, "XXXXXXX")
	in := received(1, &protocol.ServerRequest{RequestID: 1, Payload: []byte("work")})
	out2 := mustStep(t, e, 2, in)
	resp := received(1, &protocol.ClientResponse{RequestID: 1, Result: []byte("result")})
	out3 := mustStep(t, e, 3, resp)
	for i := range in.Bytes {
		in.Bytes[i] = 0
	}
	for i := range resp.Bytes {
		resp.Bytes[i] = 0
	}
	sent, _ := protocol.DecodeClientMessage(out[0].(clientsession.Send).Bytes)
	if got := sent.(*protocol.ClientRequest).Payload; !bytes.Equal(got, []byte("payload")) {
		t.Errorf("sent payload %q changed with the input", got)
	}
	if got := out2[0].(clientsession.DeliverServerRequest).Payload; !bytes.Equal(got, []byte("work")) {
		t.Errorf("server request payload %q aliases the input", got)
	}
	if got := out3[0].(clientsession.Deliver).Result; !bytes.Equal(got, []byte("result")) {
		t.Errorf("result %q aliases the input", got)
	}
	// A re-send after reconnection still carries the original payload.
	mustStep(t, e, 4, clientsession.Submit{Handle: 2, Payload: payload})
	copy(payload, "YYYYYYY")
	mustStep(t, e, 5, clientsession.ConnectionDown{Conn: 1})
	mustStep(t, e, 5, clientsession.ConnectionUp{Conn: 2, Nonce: 6})
	out = mustStep(t, e, 5, received(2, &protocol.SessionContinued{Nonce: 6}))
	for _, o := range out {
		if s, ok := o.(clientsession.Send); ok {
			m, _ := protocol.DecodeClientMessage(s.Bytes)
			if r, ok := m.(*protocol.ClientRequest); ok && string(r.Payload) != "XXXXXXX" {
				t.Errorf("re-sent payload %q, want the one given at Submit", r.Payload)
			}
		}
	}
}

func TestMembersAreCopied(t *testing.T) {
	cfg := baseConfig()
	e, err := clientsession.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Members[0].Endpoint = "tcp://changed:1"
	out := e.Tick(0)
	if c := out[0].(clientsession.Connect); c.Endpoint != "tcp://a:1" {
		t.Fatalf("connect to %q: the engine shares the caller's member slice", c.Endpoint)
	}
}

func TestTimeNeverGoesBack(t *testing.T) {
	e := connected(t, baseConfig())
	e.Tick(2500) // within the keep-alive timeout: the connection stays up
	out := mustStep(t, e, 10, clientsession.Submit{Handle: 1, Payload: []byte("x")})
	m, _ := protocol.DecodeClientMessage(out[0].(clientsession.Send).Bytes)
	if at := m.(*protocol.ClientRequest).CreatedAt; at != 2500 {
		t.Fatalf("created at %d after time 2500 was seen", at)
	}
}

func TestUnknownInput(t *testing.T) {
	e, _ := clientsession.New(baseConfig())
	if _, err := e.Step(0, nil); !errors.Is(err, clientsession.ErrUnknownInput) {
		t.Fatalf("Step(nil) = %v, want ErrUnknownInput", err)
	}
}

func TestNames(t *testing.T) {
	for s, want := range map[clientsession.State]string{clientsession.StateConnectingNew: "connecting-new",
		clientsession.StateConnected: "connected", clientsession.State(0): "unknown"} {
		if s.String() != want {
			t.Errorf("State(%d) = %q, want %q", s, s.String(), want)
		}
	}
	for k, want := range map[clientsession.EventKind]string{clientsession.EventSessionExpired: "session-expired",
		clientsession.EventKind(99): "unknown"} {
		if k.String() != want {
			t.Errorf("EventKind(%d) = %q, want %q", k, k.String(), want)
		}
	}
}

// A ClientRequest's K never passes a pending id, and a reply for an id is delivered once
// however often the cluster answers it, in any order.
func TestKAndExactlyOnceUnderReordering(t *testing.T) {
	e := connected(t, baseConfig())
	const n = 20
	for h := 1; h <= n; h++ {
		mustStep(t, e, 1, clientsession.Submit{Handle: clientsession.Handle(h), Payload: []byte{byte(h)}})
	}
	delivered := map[clientsession.Handle]int{}
	order := []int{7, 3, 3, 1, 20, 2, 7, 4, 5, 6, 8, 19, 9, 10, 11, 1, 12, 13, 14, 15, 16, 17, 18, 20}
	for _, id := range order {
		out := mustStep(t, e, 2, received(1, &protocol.ClientResponse{RequestID: protocol.RequestID(id), Result: []byte{byte(id)}}))
		for _, o := range out {
			if d, ok := o.(clientsession.Deliver); ok {
				delivered[d.Handle]++
				if d.Result[0] != byte(d.Handle) {
					t.Errorf("handle %d got the result of %d", d.Handle, d.Result[0])
				}
			}
		}
		st := e.Status()
		want := protocol.RequestID(n + 1)
		for h := 1; h <= n; h++ {
			if delivered[clientsession.Handle(h)] == 0 {
				want = protocol.RequestID(h)
				break
			}
		}
		if st.LowestPending != want {
			t.Fatalf("after reply %d: K=%d, want %d", id, st.LowestPending, want)
		}
	}
	for h := 1; h <= n; h++ {
		if delivered[clientsession.Handle(h)] != 1 {
			t.Errorf("handle %d delivered %d times", h, delivered[clientsession.Handle(h)])
		}
	}
}
