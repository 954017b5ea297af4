// Package raftnode is one zraft cluster member's consensus: hashicorp/raft with its TCP
// transport, Pebble storage, batched proposals, leadership events and linearizable reads.
package raftnode
