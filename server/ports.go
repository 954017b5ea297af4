package server

import (
	"context"
	"time"

	"github.com/zraft/zraft/adapters/raftnode"
	"github.com/zraft/zraft/adapters/zmtp"
)

// consensus is what the server needs of a cluster member's consensus.
type consensus interface {
	ProposeAsync(ctx context.Context, cmd []byte) (*raftnode.Proposal, error)
	Read(ctx context.Context, level raftnode.ReadLevel, fn func()) error
	Subscribe() *raftnode.Subscription
	State() raftnode.Event
	Stats() raftnode.Stats
	Self() raftnode.Member
	Bootstrap(ctx context.Context, members ...raftnode.Member) error
	AddMember(ctx context.Context, m raftnode.Member) error
	RemoveMember(ctx context.Context, id string) error
	TransferLeadership(ctx context.Context, id string) error
	Close() error
}

// clientTransport is what the server needs of the socket its clients connect to.
type clientTransport interface {
	Addr() string
	Recv(ctx context.Context) (zmtp.Event, error)
	Send(id zmtp.RoutingID, data []byte) error
	DisconnectAfterFlush(id zmtp.RoutingID, timeout time.Duration) error
	Close() error
}

var (
	_ consensus       = (*raftnode.Node)(nil)
	_ clientTransport = (*zmtp.Server)(nil)
)
