// Package client is the Go client of a zraft cluster (and of a zio-raft cluster): a
// durable session with exactly-once commands, linearizable queries and acknowledged
// server-initiated requests.
//
//	c, err := client.Dial(ctx, "node-1=tcp://10.0.0.1:7001,node-2=tcp://10.0.0.2:7001")
//	res, err := c.Submit(ctx, command)            // applied exactly once
//	res, err = c.Query(ctx, read)                 // linearizable by default
//	call := c.SubmitAsync(ctx, command)           // many in flight; call.Wait(ctx) later
//	for r := range c.ServerRequests() { … }       // in order, each once, acknowledged
//	for ev := range c.Events() { … }              // connected, reconnecting, expired, closed
//	err = c.Close(ctx)                            // CloseSession; pending calls get ErrClosed
//
// The session survives leader changes and lost connections: the client follows the
// cluster's leader hints, continues the session on the new leader and re-sends what was
// pending; the cluster's response cache makes a repeated command harmless. If the
// cluster expires the session, every call fails with ErrSessionExpired: the client never
// opens a new session behind the application's back, because re-sending old commands
// into a new session would break exactly-once.
//
// A call returns the application's answer as bytes, whatever it means (an application
// error too); an error return always comes from the client (the sentinels of this
// package, wrapped) or from the call's context. Package kv has typed helpers for the
// key-value example application; cmd/zraft is the command-line client.
//
// One goroutine owns the session engine (domain/clientsession); the methods talk to it
// through channels. See docs/client.md for the options, the error model and the
// guarantees.
package client
