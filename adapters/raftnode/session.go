package raftnode

import (
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/zraft/zraft/domain/session"
)

// SessionMachine bridges the node's StateMachine port to domain/session's replicated
// session machine: entry bytes are session.EncodeCommand's, a Propose returns the
// command's session.Result, and snapshots are the machine's own snapshot bytes.
type SessionMachine struct {
	m *session.Machine
}

var _ StateMachine = (*SessionMachine)(nil)

// NewSessionMachine wraps m. The node serialises every call; read m only inside
// Node.Read (under the apply lock), e.g. Machine().Query.
func NewSessionMachine(m *session.Machine) *SessionMachine { return &SessionMachine{m: m} }

// Machine returns the wrapped machine; use it only under Node.Read.
func (s *SessionMachine) Machine() *session.Machine { return s.m }

// Apply implements StateMachine. It returns the session.Result, or an error value for
// an entry that does not decode (deterministic on every member, so the replicas stay
// equal and the proposer learns of it). A log index that does not increase means this
// replica diverged: it panics, as a broken invariant must stop the replica.
func (s *SessionMachine) Apply(index, _ uint64, data []byte) any {
	res, err := s.m.ApplyEntry(index, data)
	if errors.Is(err, session.ErrIndexOrder) {
		panic(fmt.Sprintf("raftnode: session machine: %v", err))
	}
	if err != nil {
		return fmt.Errorf("raftnode: session command at %d: %w", index, err)
	}
	return res
}

// Snapshot implements StateMachine: the machine's snapshot bytes, encoded under the
// apply lock (a copy, so Persist may run while commands are applied).
func (s *SessionMachine) Snapshot() (Snapshot, error) {
	return bytesSnapshot(s.m.AppendSnapshot(nil)), nil
}

// Restore implements StateMachine. The machine checks the whole snapshot (checksum,
// structure, invariants) before it changes anything.
func (s *SessionMachine) Restore(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return fmt.Errorf("raftnode: read session snapshot: %w", err)
	}
	return s.m.Restore(b)
}

// SessionLeaderStarted returns a Config.LeaderStartedCommand that proposes
// session.LeaderStarted stamped with now (the leader's clock, in Unix milliseconds):
// it starts the session machine's leader-change grace period.
func SessionLeaderStarted(now func() time.Time) func(term uint64) []byte {
	return func(term uint64) []byte {
		b, err := session.EncodeCommand(nil, session.LeaderStarted{At: now().UnixMilli(), Term: term})
		if err != nil { // a fixed, valid command: cannot happen
			panic(err)
		}
		return b
	}
}

type bytesSnapshot []byte

func (b bytesSnapshot) Persist(w io.Writer) error {
	_, err := w.Write(b)
	return err
}

func (bytesSnapshot) Release() {}
