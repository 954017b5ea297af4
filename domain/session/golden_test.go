package session_test

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/zraft/zraft/domain/internal/scripttest"
	"github.com/zraft/zraft/domain/session"
)

// TestGolden runs every testdata/*.txt script. A script is a list of commands, one per
// line; the lines starting with "> " after each command are its expected output. With
// -update (go test ./session -update) the expected lines are regenerated: review the diff.
//
//	config timeout=MS grace=MS cache=N pending=N base=MS max=MS   (first line; new machine)
//	create @T ID [K=V ...]
//	request @T SESSION ID K PAYLOAD...
//	touch @T SESSION...
//	acks @T SESSION=N...
//	close @T SESSION
//	leader @T TERM
//	redeliver @T
//	internal @T PAYLOAD...
//	batch CMD | CMD | ...             (one log entry)
//	query SESSION PAYLOAD...
//	sessions                          (dumps the live sessions)
//	snapshot                          (snapshot, restore into a new machine, continue there)
//
// Every applied command is encoded, decoded and applied through ApplyEntry, so the scripts
// also exercise the codec.
func TestGolden(t *testing.T) {
	scripttest.Run(t, scripttest.Files{Read: os.ReadFile, Write: os.WriteFile}, "testdata/*.txt", runScript)
}

type scriptRunner struct {
	t     *testing.T
	m     *session.Machine
	app   *counterApp
	cfg   session.Config
	index uint64
	out   scripttest.Output
}

func runScript(t *testing.T, script string) string {
	r := &scriptRunner{t: t}
	for line := range scripttest.Commands(script, &r.out) {
		if err := r.run(line.Command()); err != nil {
			line.Fatal(t, err)
		}
	}
	return r.out.String()
}

func (r *scriptRunner) emit(format string, args ...any) { r.out.Emit(format, args...) }

func (r *scriptRunner) run(line string) error {
	word, rest, _ := strings.Cut(line, " ")
	switch word {
	case "config":
		return r.config(rest)
	case "query":
		id, payload, _ := strings.Cut(rest, " ")
		r.emitOutcome(r.m.Query(id, []byte(payload)))
		return nil
	case "sessions":
		for info := range r.m.Sessions() {
			r.emit("session %s caps=%s created=%d active=%d floor=%d lastseq=%d cached=%d pending=%d",
				info.ID, capsString(info.Capabilities), info.CreatedAt, info.LastActivity, info.Floor, info.LastSeq, info.Cached, info.Pending)
			for _, sr := range r.m.PendingServerRequests(info.ID) {
				r.emit("  pending %s#%d attempt=%d at=%d %q", sr.Session, sr.Seq, sr.Attempt, sr.CreatedAt, sr.Payload)
			}
		}
		if exp, ok := r.m.NextExpiry(); ok {
			r.emit("next expiry after %d", exp)
		}
		return nil
	case "snapshot":
		snap := r.m.AppendSnapshot(nil)
		app := newCounterApp()
		m := session.New(r.cfg, app)
		if err := m.Restore(snap); err != nil {
			return err
		}
		if again := m.AppendSnapshot(nil); !bytes.Equal(again, snap) {
			return fmt.Errorf("restored snapshot differs")
		}
		r.m, r.app = m, app
		r.emit("snapshot %d bytes, restored identically", len(snap))
		return nil
	case "batch":
		var b session.Batch
		for _, part := range strings.Split(rest, "|") {
			c, err := parseCommand(strings.TrimSpace(part))
			if err != nil {
				return err
			}
			b.Commands = append(b.Commands, c)
		}
		return r.apply(b)
	}
	c, err := parseCommand(line)
	if err != nil {
		return err
	}
	return r.apply(c)
}

func (r *scriptRunner) config(args string) error {
	r.cfg = session.Config{}
	for _, kv := range strings.Fields(args) {
		k, v, _ := strings.Cut(kv, "=")
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return err
		}
		switch k {
		case "timeout":
			r.cfg.SessionTimeout = n
		case "grace":
			r.cfg.LeaderGrace = n
		case "cache":
			r.cfg.MaxCachedResponses = int(n)
		case "pending":
			r.cfg.MaxPendingRequests = int(n)
		case "base":
			r.cfg.RedeliveryBase = n
		case "max":
			r.cfg.RedeliveryMax = n
		default:
			return fmt.Errorf("unknown config %q", k)
		}
	}
	r.app = newCounterApp()
	r.m = session.New(r.cfg, r.app)
	r.index = 0
	return nil
}

func (r *scriptRunner) apply(c session.Command) error {
	entry, err := session.EncodeCommand(nil, c)
	if err != nil {
		return err
	}
	r.index++
	res, err := r.m.ApplyEntry(r.index, entry)
	if err != nil {
		return err
	}
	r.emit("index=%d now=%d", res.Index, res.Now)
	for _, o := range res.Outcomes {
		r.emitOutcome(o)
	}
	for _, id := range res.Created {
		r.emit("created %s", id)
	}
	for _, id := range res.Expired {
		r.emit("expired %s", id)
	}
	for _, id := range res.Closed {
		r.emit("closed %s", id)
	}
	for _, sr := range res.ServerRequests {
		r.emit("send %s#%d attempt=%d at=%d %q", sr.Session, sr.Seq, sr.Attempt, sr.CreatedAt, sr.Payload)
	}
	return nil
}

func (r *scriptRunner) emitOutcome(o session.Outcome) {
	var b strings.Builder
	b.WriteString(o.Kind.String())
	if o.Kind == session.Rejected {
		b.WriteString(" " + o.Reject.String())
	}
	if o.Session != "" {
		b.WriteString(" session=" + o.Session)
	}
	if o.RequestID != 0 {
		fmt.Fprintf(&b, " id=%d", o.RequestID)
	}
	if o.Data != nil {
		fmt.Fprintf(&b, " %q", o.Data)
	}
	if o.Cached {
		b.WriteString(" (cached)")
	}
	if len(o.Missing) > 0 {
		b.WriteString(" missing=" + strings.Join(o.Missing, ","))
	}
	r.emit("%s", b.String())
}

func parseCommand(line string) (session.Command, error) {
	f := strings.Fields(line)
	at, err := scripttest.At(f)
	if err != nil {
		return nil, err
	}
	args := f[2:]
	need := func(n int) error {
		if len(args) < n {
			return fmt.Errorf("%s needs %d arguments", f[0], n)
		}
		return nil
	}
	switch f[0] {
	case "create":
		if err := need(1); err != nil {
			return nil, err
		}
		c := session.CreateSession{At: at, ID: args[0]}
		for _, kv := range args[1:] {
			k, v, _ := strings.Cut(kv, "=")
			c.Capabilities = append(c.Capabilities, session.Capability{Key: k, Value: v})
		}
		return c, nil
	case "request":
		if err := need(3); err != nil {
			return nil, err
		}
		id, err1 := strconv.ParseUint(args[1], 10, 64)
		k, err2 := strconv.ParseUint(args[2], 10, 64)
		if err1 != nil || err2 != nil {
			return nil, fmt.Errorf("bad ids in %q", line)
		}
		return session.ClientRequest{At: at, Session: args[0], RequestID: id, LowestPending: k, Payload: []byte(strings.Join(args[3:], " "))}, nil
	case "touch":
		return session.Touch{At: at, Sessions: args}, nil
	case "acks":
		c := session.Acks{At: at}
		for _, kv := range args {
			s, n, _ := strings.Cut(kv, "=")
			upTo, err := strconv.ParseUint(n, 10, 64)
			if err != nil {
				return nil, err
			}
			c.Acks = append(c.Acks, session.Ack{Session: s, UpTo: upTo})
		}
		return c, nil
	case "close":
		if err := need(1); err != nil {
			return nil, err
		}
		return session.CloseSession{At: at, Session: args[0]}, nil
	case "leader":
		if err := need(1); err != nil {
			return nil, err
		}
		term, err := strconv.ParseUint(args[0], 10, 64)
		if err != nil {
			return nil, err
		}
		return session.LeaderStarted{At: at, Term: term}, nil
	case "redeliver":
		return session.Redelivery{At: at}, nil
	case "internal":
		return session.Internal{At: at, Payload: []byte(strings.Join(args, " "))}, nil
	}
	return nil, fmt.Errorf("unknown command %q", f[0])
}

func capsString(caps []session.Capability) string {
	parts := make([]string, len(caps))
	for i, c := range caps {
		parts[i] = c.Key + "=" + c.Value
	}
	return "[" + strings.Join(parts, ",") + "]"
}
