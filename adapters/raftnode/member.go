package raftnode

// Member is one cluster member as clients and peers know it.
type Member struct {
	// ID is the member id (raft.ServerID), stable across restarts.
	ID string
	// RaftAddr is the host:port other members dial for Raft traffic.
	RaftAddr string
	// ClientEndpoint is where clients reach this member (e.g. tcp://host:port); it is
	// replicated so that any member can tell a client where the leader is.
	ClientEndpoint string
}
