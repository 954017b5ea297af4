package raftnode

import (
	"errors"
	"fmt"
)

// Sentinel errors; test with errors.Is.
var (
	// ErrNotLeader: this member is not the (ready) leader. The error returned is a
	// *NotLeaderError carrying the leader hint when one is known.
	ErrNotLeader = errors.New("raftnode: not the leader")
	// ErrLeadershipLost: leadership was lost while a proposal was in flight; the command
	// may or may not have been committed (outcome unknown, retry through the session layer).
	ErrLeadershipLost = errors.New("raftnode: leadership lost, outcome unknown")
	// ErrShutdown: the node is shut down or shutting down.
	ErrShutdown = errors.New("raftnode: shut down")
	// ErrAlreadyBootstrapped: Bootstrap found existing Raft state in the data dir.
	ErrAlreadyBootstrapped = errors.New("raftnode: already bootstrapped")
	// ErrInvalidConfig: Config.Validate rejected the configuration.
	ErrInvalidConfig = errors.New("raftnode: invalid config")
	// ErrCorruptEntry: a log entry or snapshot does not have the raftnode framing.
	ErrCorruptEntry = errors.New("raftnode: corrupt entry")
	// ErrTimeout: raft did not accept an operation within the configured time.
	ErrTimeout = errors.New("raftnode: timeout")
)

// NotLeaderError tells the caller which member leads, when this member knows it.
// It matches ErrNotLeader with errors.Is.
type NotLeaderError struct {
	LeaderID       string // empty when no leader is known
	LeaderEndpoint string // the leader's client endpoint; empty when unknown
}

// Error describes the error with its hint.
func (e *NotLeaderError) Error() string {
	if e.LeaderID == "" {
		return ErrNotLeader.Error() + " (leader unknown)"
	}
	return fmt.Sprintf("%s (leader %q at %q)", ErrNotLeader.Error(), e.LeaderID, e.LeaderEndpoint)
}

// Is makes errors.Is(err, ErrNotLeader) hold.
func (e *NotLeaderError) Is(target error) bool { return target == ErrNotLeader }
