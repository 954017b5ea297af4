package server

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"

	"github.com/zraft/zraft/adapters/raftnode"
	"github.com/zraft/zraft/adapters/telemetry"
	"github.com/zraft/zraft/domain/gateway"
	"github.com/zraft/zraft/domain/session"
)

// stateMachine is the replicated session state machine as raftnode applies it, and the
// gateway's SessionView of it. Its lock serialises the gateway loop's reads with Apply.
type stateMachine struct {
	mu  sync.Mutex
	m   *session.Machine
	log *slog.Logger
	out *inbox
}

var (
	_ raftnode.StateMachine = (*stateMachine)(nil)
	_ gateway.SessionView   = (*stateMachine)(nil)
)

// Apply decodes and applies one committed entry and hands it to the gateway loop.
func (s *stateMachine) Apply(index, _ uint64, data []byte) any {
	// The decoded command aliases its entry and travels to the gateway loop, while raft
	// may reuse data once Apply returns.
	cmd, err := session.DecodeCommand(bytes.Clone(data))
	if err != nil {
		// The same on every member: the entry is skipped, its proposer told.
		s.log.Error("server: undecodable log entry skipped", "index", index, "err", err)
		return err
	}
	s.mu.Lock()
	res, err := s.m.Apply(index, cmd)
	s.mu.Unlock()
	if errors.Is(err, session.ErrIndexOrder) {
		panic(fmt.Sprintf("server: replica diverged: %v", err)) // must not go on serving
	}
	if err != nil {
		s.log.Error("server: log entry not applied", "index", index, "err", err)
		return err
	}
	s.out.pushApplied(gateway.Applied{Command: cmd, Result: res})
	return nil
}

// Snapshot copies the state (cheap next to a log replay: a few hundred bytes a session).
func (s *stateMachine) Snapshot() (raftnode.Snapshot, error) {
	s.mu.Lock()
	b := s.m.AppendSnapshot(nil)
	s.mu.Unlock()
	return byteSnapshot(b), nil
}

// Restore replaces the state with a snapshot's.
func (s *stateMachine) Restore(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.m.Restore(b)
}

// Session implements gateway.SessionView.
func (s *stateMachine) Session(id string) (session.Info, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.m.Session(id)
}

// PendingServerRequests implements gateway.SessionView.
func (s *stateMachine) PendingServerRequests(id string) []session.ServerRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.m.PendingServerRequests(id)
}

// Len implements gateway.SessionView.
func (s *stateMachine) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.m.Len()
}

// query runs a read against the current state.
func (s *stateMachine) query(sess string, payload []byte) session.Outcome {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.m.Query(sess, payload)
}

// gauges reads the session gauges.
func (s *stateMachine) gauges() telemetry.SessionState {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := telemetry.SessionState{Live: int64(s.m.Len())}
	for info := range s.m.Sessions() {
		st.PendingServerRequests += int64(info.Pending)
	}
	return st
}

type byteSnapshot []byte

func (b byteSnapshot) Persist(w io.Writer) error { _, err := w.Write(b); return err }
func (byteSnapshot) Release()                    {}
