package gateway

import (
	"encoding/hex"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/zraft/zraft/domain/internal/scripttest"
	"github.com/zraft/zraft/domain/session"
	"github.com/zraft/zraft/protocol"
)

// TestGolden runs every testdata/*.txt script against a Gateway and a real
// session.Machine (see harness). A script is a list of commands, one per line; the lines
// starting with "> " after a command are its expected output: every Send (encoded,
// decoded again and printed), Close, Propose and Read, in order. With -update
// (go test ./gateway -update) the expected lines are regenerated: review the diff.
//
//	config [flush=MS] [redelivery=MS] [inflight=N] [timeout=MS] [base=MS] [noext]   (first line)
//	leader TERM ID [ID=ENDPOINT ...]        LeadershipChanged, leading
//	follower LEADER|- [ID=ENDPOINT ...]     LeadershipChanged, following
//	at T | tick T                           set the time (tick also calls Tick)
//	create RID NONCE SID|- [K=V ...]        CreateSession from RID, new session id SID
//	continue RID SESSION NONCE
//	keepalive RID TS
//	request RID ID LOWEST PAYLOAD...
//	ack RID N
//	close-session RID
//	connection-closed RID                   the ConnectionClosed message
//	query RID CORR [level=NAME] PAYLOAD...  (level travels in an extension block)
//	raw RID HEX                             arbitrary bytes from RID
//	disconnect RID                          the ConnectionClosed input
//	commit [N] | fail [N]                   apply / fail the first N queued proposals (all / 1)
//	unknown [N]                             fail the first N, which stay queued (outcome unknown)
//	internal PAYLOAD...                     an entry the gateway did not propose
//	reads | read-fail                       serve / fail every queued read
//	stats | state
func TestGolden(t *testing.T) {
	scripttest.Run(t, scripttest.Files{Read: os.ReadFile, Write: os.WriteFile}, "testdata/*.txt", runScript)
}

type script struct {
	h   *harness
	out scripttest.Output
}

func runScript(t *testing.T, text string) string {
	s := &script{}
	for line := range scripttest.Commands(text, &s.out) {
		cmd := line.Command()
		if s.h == nil && !strings.HasPrefix(cmd, "config") {
			if err := s.config(""); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.run(cmd); err != nil {
			line.Fatal(t, err)
		}
	}
	return s.out.String()
}

func (s *script) emit(format string, args ...any) { s.out.Emit(format, args...) }

func (s *script) config(args string) error {
	var cfg Config
	scfg := session.Config{}
	for _, kv := range strings.Fields(args) {
		k, v, _ := strings.Cut(kv, "=")
		if k == "noext" {
			cfg.DisableExtensions = true
			continue
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return err
		}
		switch k {
		case "flush":
			cfg.FlushInterval = n
		case "redelivery":
			cfg.RedeliveryInterval = n
		case "timeout":
			scfg.SessionTimeout = n
		case "inflight":
			cfg.MaxInFlight = int(n)
		case "base":
			scfg.RedeliveryBase = n
		default:
			return fmt.Errorf("unknown config %q", k)
		}
	}
	h, err := newHarness(cfg, scfg, s.emit)
	s.h = h
	return err
}

func (s *script) run(line string) error {
	f := strings.Fields(line)
	word, args := f[0], f[1:]
	h := s.h
	arg := func(i int) string {
		if i < len(args) {
			return args[i]
		}
		return ""
	}
	num := func(i int) int64 {
		n, err := strconv.ParseInt(arg(i), 10, 64)
		if err != nil {
			panic(fmt.Sprintf("argument %d of %q: %v", i+1, line, err))
		}
		return n
	}
	count := func(def int) int {
		if len(args) == 0 {
			return def
		}
		return int(num(0))
	}
	rest := func(i int) []byte {
		if i >= len(args) {
			return nil
		}
		return []byte(strings.Join(args[i:], " "))
	}
	rid := func() RoutingID { return RoutingID(num(0)) }
	switch word {
	case "config":
		return s.config(strings.Join(args, " "))
	case "leader", "follower":
		l := LeadershipChanged{IsLeader: word == "leader"}
		members := args
		if l.IsLeader {
			l.Term, l.Leader, members = uint64(num(0)), protocol.MemberID(arg(1)), args[2:]
		} else if len(args) > 0 {
			if args[0] != "-" {
				l.Leader = protocol.MemberID(args[0])
			}
			members = args[1:]
		}
		for _, m := range members {
			id, ep, _ := strings.Cut(m, "=")
			l.Members = append(l.Members, protocol.Member{ID: protocol.MemberID(id), Endpoint: ep})
		}
		return s.step(l)
	case "at":
		h.now = max(h.now, num(0))
		return nil
	case "tick":
		return h.tick(num(0))
	case "create":
		m := &protocol.CreateSession{Nonce: protocol.Nonce(num(1))}
		for _, kv := range args[3:] {
			k, v, _ := strings.Cut(kv, "=")
			m.Capabilities = append(m.Capabilities, protocol.Capability{Key: k, Value: v})
		}
		id := arg(2)
		if id == "-" {
			id = ""
		}
		return s.client(rid(), m, id)
	case "continue":
		return s.client(rid(), &protocol.ContinueSession{SessionID: protocol.SessionID(arg(1)), Nonce: protocol.Nonce(num(2))}, "")
	case "keepalive":
		return s.client(rid(), &protocol.KeepAlive{Timestamp: protocol.Timestamp(num(1))}, "")
	case "request":
		return s.client(rid(), &protocol.ClientRequest{RequestID: protocol.RequestID(num(1)),
			LowestPendingRequestID: protocol.RequestID(num(2)), Payload: rest(3), CreatedAt: 1}, "")
	case "ack":
		return s.client(rid(), &protocol.ServerRequestAck{RequestID: protocol.RequestID(num(1))}, "")
	case "close-session":
		return s.client(rid(), &protocol.CloseSession{Reason: protocol.ClientShutdown}, "")
	case "connection-closed":
		return s.client(rid(), &protocol.ConnectionClosed{}, "")
	case "query":
		q := &protocol.Query{CorrelationID: protocol.CorrelationID(arg(1)), CreatedAt: 1}
		from := 2
		if lv, ok := strings.CutPrefix(arg(2), "level="); ok {
			from = 3
			for c := protocol.Consistency(1); c.Known(); c++ {
				if strings.EqualFold(c.String(), lv) {
					q.Ext = &protocol.Extensions{Consistency: c}
				}
			}
		}
		q.Payload = rest(from)
		return s.client(rid(), q, "")
	case "raw":
		b, err := hex.DecodeString(arg(1))
		if err != nil {
			return err
		}
		return s.step(Message{RoutingID: rid(), Bytes: b})
	case "disconnect":
		return s.step(ConnectionClosed{RoutingID: rid()})
	case "commit":
		return h.commit(count(len(h.proposals)))
	case "fail":
		return h.fail(count(1), true)
	case "unknown":
		return h.fail(count(1), false)
	case "internal":
		return h.apply(session.Internal{At: h.now, Payload: rest(0)})
	case "reads":
		return h.serveReads(true)
	case "read-fail":
		return h.serveReads(false)
	case "stats":
		st := h.g.Stats()
		s.emit("stats malformed=%d ignored=%d unrouted=%d overloaded=%d proposals-failed=%d reads-failed=%d", st.Malformed,
			st.Ignored, st.Unrouted, st.Overloaded, st.ProposalsFailed, st.ReadsFailed)
		s.emit("  connections=%d sessions=%d creations=%d requests=%d reads=%d", st.Connections, st.Sessions,
			st.Creations, st.Requests, st.Reads)
		return nil
	case "state":
		s.emit("leader=%v term=%d", h.g.leader, h.g.term)
		for _, id := range sortedKeys(h.g.conns) {
			c := h.g.conns[id]
			s.emit("  conn %d session=%q creating=%q ext=%d closing=%v", id, c.session, c.creating, c.ext, c.closing)
		}
		return nil
	}
	return fmt.Errorf("unknown command %q", word)
}

func (s *script) client(rid RoutingID, m protocol.ClientMessage, newID string) error {
	b, err := protocol.AppendClientMessage(nil, m)
	if err != nil {
		return err
	}
	return s.step(Message{RoutingID: rid, Bytes: b, NewSessionID: newID})
}

// step feeds an input; a misuse error is part of the expected output.
func (s *script) step(in Input) error {
	err := s.h.step(in)
	if err != nil && strings.HasPrefix(err.Error(), "invariant") {
		return err
	}
	if err != nil {
		s.emit("error: %v", err)
	}
	return nil
}
