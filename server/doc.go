// Package server composes a zraft cluster member from the adapters: the client socket
// (adapters/zmtp), consensus with durable storage (adapters/raftnode on Pebble), the
// replicated session state machine (domain/session) with an application (by default the
// key-value example, server/kv), and the gateway loop, one goroutine that owns the
// leader-local gateway engine (domain/gateway) and carries out its outputs. An HTTP admin
// listener serves /healthz, /readyz, /cluster and membership changes.
//
//	srv, err := server.New(server.Config{MemberID: "node-1", DataDir: dir})
//	err = srv.Run(ctx) // until ctx is done: then a graceful shutdown
//
// zraftd (server/cmd/zraftd) is the command around it; docs/operations.md describes
// running it.
package server
