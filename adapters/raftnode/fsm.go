package raftnode

import (
	"fmt"
	"io"
	"log/slog"
	"sync"

	"github.com/hashicorp/raft"
)

// fsm adapts a StateMachine to raft.BatchingFSM. It strips the node's entry framing,
// keeps the replicated member endpoints, and tracks the highest index whose effects the
// state machine has seen, which linearizable reads wait for. raft's own AppliedIndex only
// says an entry was handed to the FSM goroutine, not that it was applied.
type fsm struct {
	sm  StateMachine
	log *slog.Logger

	mu        sync.Mutex // the apply lock: ApplyBatch, Snapshot, Restore and reads hold it
	applied   uint64
	appliedCh chan struct{}     // closed (and replaced) whenever applied advances
	endpoints map[string]string // member id -> client endpoint (replicated)
	voters    map[string]string // member id -> raft address (from configuration entries)

	onMembers func()                            // called (outside mu) when endpoints or voters changed
	onResult  func(tag proposalTag, result any) // called (outside mu) for each applied tagged entry
}

type taggedResult struct {
	tag    proposalTag
	result any
}

var _ raft.BatchingFSM = (*fsm)(nil)

func newFSM(sm StateMachine, log *slog.Logger) *fsm {
	return &fsm{
		sm:        sm,
		log:       log,
		appliedCh: make(chan struct{}),
		endpoints: map[string]string{},
		voters:    map[string]string{},
	}
}

// Apply implements raft.FSM.
func (f *fsm) Apply(l *raft.Log) any { return f.ApplyBatch([]*raft.Log{l})[0] }

// ApplyBatch implements raft.BatchingFSM: commands and configuration entries in order.
func (f *fsm) ApplyBatch(logs []*raft.Log) []any {
	out := make([]any, len(logs))
	var results []taggedResult
	membersChanged := false
	f.mu.Lock()
	for i, l := range logs {
		switch l.Type {
		case raft.LogCommand:
			var changed bool
			data := l.Data
			tagged := len(data) > 0 && data[0] == kindTagged
			var tag proposalTag
			if tagged {
				var err error
				if tag, data, err = splitTagged(data[1:]); err != nil {
					out[i] = f.corrupt(l, err.Error())
					break
				}
			}
			out[i], changed = f.applyCommand(l, data)
			membersChanged = membersChanged || changed
			if tagged {
				results = append(results, taggedResult{tag, out[i]})
			}
		case raft.LogConfiguration:
			f.applyConfiguration(raft.DecodeConfiguration(l.Data))
			membersChanged = true
		}
		f.applied = l.Index
	}
	if len(logs) > 0 {
		close(f.appliedCh)
		f.appliedCh = make(chan struct{})
	}
	f.mu.Unlock()
	if membersChanged && f.onMembers != nil {
		f.onMembers()
	}
	if f.onResult != nil {
		for _, r := range results {
			f.onResult(r.tag, r.result)
		}
	}
	return out
}

// applyCommand applies one untagged entry (data is l.Data, or what follows its tag).
func (f *fsm) applyCommand(l *raft.Log, data []byte) (result any, membersChanged bool) {
	if len(data) == 0 {
		return f.corrupt(l, "empty entry"), false
	}
	switch data[0] {
	case kindCommand:
		return f.sm.Apply(l.Index, l.Term, data[1:]), false
	case kindMembers:
		e, err := decodeMembers(data[1:])
		if err != nil {
			return f.corrupt(l, err.Error()), false
		}
		for _, m := range e.endpoints {
			f.endpoints[m.ID] = m.ClientEndpoint
		}
		return nil, true
	default:
		return f.corrupt(l, fmt.Sprintf("unknown kind %d", data[0])), false
	}
}

// corrupt handles an entry without our framing the same way on every member: it is not
// applied and its proposer gets an error.
func (f *fsm) corrupt(l *raft.Log, why string) entryError {
	f.log.Error("raftnode: skipping corrupt log entry", "index", l.Index, "term", l.Term, "why", why)
	return entryError{fmt.Errorf("%w: index %d: %s", ErrCorruptEntry, l.Index, why)}
}

// entryError is the FSM response for an entry the node could not apply; it is told apart
// from the state machine's own results, which may be error values too.
type entryError struct{ err error }

func (f *fsm) applyConfiguration(c raft.Configuration) {
	f.voters = map[string]string{}
	for _, s := range c.Servers {
		f.voters[string(s.ID)] = string(s.Address)
	}
	// Endpoints of removed members go, deterministically, with the configuration.
	for id := range f.endpoints {
		if _, ok := f.voters[id]; !ok {
			delete(f.endpoints, id)
		}
	}
}

// Snapshot implements raft.FSM; raft calls it on the FSM goroutine, so no Apply runs.
func (f *fsm) Snapshot() (raft.FSMSnapshot, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	s, err := f.sm.Snapshot()
	if err != nil {
		return nil, fmt.Errorf("raftnode: state machine snapshot: %w", err)
	}
	return &fsmSnapshot{header: snapshotHeader{applied: f.applied, endpoints: copyMap(f.endpoints), voters: copyMap(f.voters)}, sm: s}, nil
}

// Restore implements raft.FSM.
func (f *fsm) Restore(rc io.ReadCloser) error {
	defer func() { _ = rc.Close() }()
	h, body, err := readSnapshotHeader(rc)
	if err != nil {
		return err
	}
	f.mu.Lock()
	err = f.sm.Restore(body)
	if err == nil {
		f.endpoints, f.voters, f.applied = h.endpoints, h.voters, h.applied
		close(f.appliedCh)
		f.appliedCh = make(chan struct{})
	}
	f.mu.Unlock()
	if err != nil {
		return fmt.Errorf("raftnode: state machine restore: %w", err)
	}
	if f.onMembers != nil {
		f.onMembers()
	}
	return nil
}

// appliedIndex returns the applied index and a channel closed when it next advances.
func (f *fsm) appliedIndex() (uint64, <-chan struct{}) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.applied, f.appliedCh
}

// memberView returns copies of the replicated endpoints and voters.
func (f *fsm) memberView() (endpoints, voters map[string]string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return copyMap(f.endpoints), copyMap(f.voters)
}

func (f *fsm) endpoint(id string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.endpoints[id]
}

func copyMap(m map[string]string) map[string]string {
	c := make(map[string]string, len(m))
	for k, v := range m {
		c[k] = v
	}
	return c
}

type fsmSnapshot struct {
	header snapshotHeader
	sm     Snapshot
}

// Persist implements raft.FSMSnapshot.
func (s *fsmSnapshot) Persist(sink raft.SnapshotSink) error {
	err := writeSnapshotHeader(sink, s.header)
	if err == nil {
		err = s.sm.Persist(sink)
	}
	if err != nil {
		_ = sink.Cancel()
		return fmt.Errorf("raftnode: persist snapshot: %w", err)
	}
	return sink.Close()
}

// Release implements raft.FSMSnapshot.
func (s *fsmSnapshot) Release() { s.sm.Release() }
