package clientsession_test

import (
	"fmt"
	"strconv"
	"testing"

	"github.com/zraft/zraft/domain/clientsession"
	"github.com/zraft/zraft/protocol"
)

// FuzzEngine drives an engine with input sequences drawn from the fuzz bytes: calls,
// cancels, connection events, well-formed server messages aimed at what is pending (so
// the search reaches deep states) and raw server bytes. The engine must never panic,
// never refuse a valid input, and keep every promise the checker knows.
func FuzzEngine(f *testing.F) {
	f.Add([]byte{5, 1, 7, 1, 1, 2, 11, 0, 13, 0, 14, 1, 14, 3, 14, 2, 0, 200})
	f.Add([]byte{5, 9, 7, 9, 1, 1, 6, 0, 0, 0, 5, 3, 8, 3, 11, 1, 12, 1, 10, 5})
	f.Add([]byte{5, 2, 7, 2, 1, 2, 3, 0, 4, 1})
	f.Add([]byte{0, 255, 5, 1, 9, 0, 5, 1, 9, 1, 15, 7, 1, 2, 3, 4, 5, 6, 7})
	f.Fuzz(func(t *testing.T, data []byte) {
		if err := runFuzz(data); err != nil {
			t.Fatal(err)
		}
	})
}

type fuzzRun struct {
	data  []byte
	pos   int
	e     *clientsession.Engine
	chk   *checker
	now   int64
	nonce protocol.Nonce
	// handles and correlation ids are never reused, so the checker can tell a second
	// delivery from a new call.
	nextHandle clientsession.Handle
	nextCorr   int
	corrs      []protocol.CorrelationID
}

func (r *fuzzRun) byte() byte {
	if r.pos >= len(r.data) {
		return 0
	}
	b := r.data[r.pos]
	r.pos++
	return b
}

func runFuzz(data []byte) error {
	cfg := clientsession.Config{
		Members: []protocol.Member{{ID: "a", Endpoint: "tcp://a:1"}, {ID: "b", Endpoint: "tcp://b:1"},
			{ID: "c", Endpoint: "tcp://c:1"}},
		Capabilities:      protocol.Capabilities{{Key: "app", Value: "fuzz"}},
		Extensions:        len(data) > 0 && data[0]&1 == 1,
		KeepAliveInterval: 100, KeepAliveTimeout: 350, ConnectTimeout: 200, ResendInterval: 300,
		BackoffBase: 10, BackoffMax: 80, MaxPending: 8, MaxHeldServerRequests: 3, MaxMembers: 5, Seed: 1,
	}
	e, err := clientsession.New(cfg)
	if err != nil {
		return err
	}
	r := &fuzzRun{data: data, e: e, chk: newChecker(e, cfg.MaxHeldServerRequests), nextHandle: 1}
	for steps := 0; r.pos < len(data) && steps < 2000; steps++ {
		if err := r.step(); err != nil {
			return fmt.Errorf("step %d at byte %d: %w", steps, r.pos, err)
		}
	}
	// Close at the end: every caller must hear back, every connection be released.
	return r.feed(clientsession.Close{})
}

func (r *fuzzRun) feed(in clientsession.Input) error {
	r.chk.before()
	outs, err := r.e.Step(r.now, in)
	if err != nil {
		return fmt.Errorf("valid input %#v refused: %w", in, err)
	}
	r.chk.input(in)
	return r.chk.outputs(outs)
}

func (r *fuzzRun) recv(m protocol.ServerMessage) error {
	b, err := protocol.AppendServerMessage(nil, m)
	if err != nil {
		return nil // the generator built something the wire cannot carry; skip it
	}
	return r.feed(clientsession.Received{Conn: r.conn(), Bytes: b})
}

// conn is usually the current connection, sometimes a stale or future one.
func (r *fuzzRun) conn() clientsession.ConnID {
	c := r.e.Status().Conn
	switch r.byte() % 8 {
	case 0:
		return c - 1
	case 1:
		return c + 1
	}
	return c
}

func (r *fuzzRun) members() (protocol.MemberID, bool) {
	b := r.byte()
	names := []protocol.MemberID{"a", "b", "c", "d", "zz", ""}
	return names[int(b)%len(names)], b&0x80 == 0
}

func (r *fuzzRun) ext() *protocol.Extensions {
	b := r.byte()
	if b&3 == 0 {
		return nil
	}
	e := &protocol.Extensions{Version: b >> 6}
	if b&4 != 0 {
		e.Members = []protocol.Member{{ID: "d", Endpoint: "tcp://d:1"}, {ID: "e", Endpoint: "tcp://e:1"},
			{ID: protocol.MemberID("m" + strconv.Itoa(int(b>>3))), Endpoint: "tcp://m:1"}}
	}
	if b&8 != 0 {
		e.TraceParent = "00-trace-01"
	}
	if e.IsZero() {
		return nil
	}
	return e
}

func (r *fuzzRun) step() error {
	st := r.e.Status()
	switch op := r.byte() % 16; op {
	case 0:
		r.now += int64(r.byte()) * 3
		r.chk.before()
		return r.chk.outputs(r.e.Tick(r.now))
	case 1:
		h := r.nextHandle
		r.nextHandle++
		return r.feed(clientsession.Submit{Handle: h, Payload: []byte{r.byte()}, TraceParent: "00-t-01"})
	case 2:
		h := r.nextHandle
		r.nextHandle++
		r.nextCorr++
		c := protocol.CorrelationID("q" + strconv.Itoa(r.nextCorr))
		r.corrs = append(r.corrs, c)
		return r.feed(clientsession.Query{Handle: h, CorrelationID: c, Payload: []byte{r.byte()},
			Consistency: protocol.Consistency(r.byte() % 4)})
	case 3:
		return r.feed(clientsession.CancelRequest{Handle: clientsession.Handle(r.byte()) % (r.nextHandle + 1)})
	case 4:
		if r.byte() < 16 {
			return r.feed(clientsession.Close{})
		}
		return nil
	case 5:
		r.nonce = protocol.Nonce(r.byte()) + 1
		return r.feed(clientsession.ConnectionUp{Conn: r.conn(), Nonce: r.nonce})
	case 6:
		return r.feed(clientsession.ConnectionDown{Conn: r.conn()})
	case 7:
		return r.recv(&protocol.SessionCreated{SessionID: "s1", Nonce: r.pickNonce(), Ext: r.ext()})
	case 8:
		return r.recv(&protocol.SessionContinued{Nonce: r.pickNonce(), Ext: r.ext()})
	case 9:
		leader, has := r.members()
		return r.recv(&protocol.SessionRejected{Reason: protocol.RejectionReason(r.byte() % 8), Nonce: r.pickNonce(),
			Leader: leader, HasLeader: has, Ext: r.ext()})
	case 10:
		leader, has := r.members()
		return r.recv(&protocol.SessionClosed{Reason: protocol.SessionCloseReason(r.byte() % 7), Leader: leader, HasLeader: has})
	case 11:
		id := st.LowestPending + protocol.RequestID(r.byte()%6) - 1
		return r.recv(&protocol.ClientResponse{RequestID: id, Result: []byte("ok")})
	case 12:
		id := st.LowestPending + protocol.RequestID(r.byte()%6) - 1
		return r.recv(&protocol.RequestError{RequestID: id, Reason: protocol.RequestErrorReason(r.byte() % 5)})
	case 13:
		c := protocol.CorrelationID("none")
		if len(r.corrs) > 0 {
			c = r.corrs[int(r.byte())%len(r.corrs)]
		}
		return r.recv(&protocol.QueryResponse{CorrelationID: c, Result: []byte("v")})
	case 14:
		id := st.LastServerRequest + protocol.RequestID(r.byte()%7) - 1
		return r.recv(&protocol.ServerRequest{RequestID: id, Payload: []byte("w"), Ext: r.ext()})
	default:
		n := int(r.byte() % 32)
		raw := []byte("zraft\x01")
		for i := 0; i < n; i++ {
			raw = append(raw, r.byte())
		}
		if n%5 == 4 {
			raw = raw[6:] // not even a header
		}
		return r.feed(clientsession.Received{Conn: r.conn(), Bytes: raw})
	}
}

func (r *fuzzRun) pickNonce() protocol.Nonce {
	if r.byte()%5 == 0 {
		return r.nonce + 1
	}
	return r.nonce
}

// TestFuzzSeedsLong runs the fuzz body over pseudo-random inputs, so the invariants are
// exercised on every plain `go test` too, not only under -fuzz.
func TestFuzzSeedsLong(t *testing.T) {
	x := uint64(88172645463325252)
	for i := 0; i < 1000; i++ {
		data := make([]byte, 64+i%400)
		for j := range data {
			x ^= x << 13
			x ^= x >> 7
			x ^= x << 17
			data[j] = byte(x)
		}
		if err := runFuzz(data); err != nil {
			t.Fatalf("input %d (%x): %v", i, data, err)
		}
	}
}
