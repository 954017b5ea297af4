// Package gateway is zraft's leader-local engine for client connections: which
// connection (routing id) owns which session, which proposals and reads are in flight,
// and what to send, propose or close next. It implements the leader's side of
// shared/spec/semantics.md and knows nothing of sockets, Raft or clocks.
//
// The shape follows etcd-io/raft's core. The caller (the server's gateway loop, one
// goroutine) feeds inputs with Step and the passing of time with Tick, then collects the
// outputs with Ready and carries them out in order:
//
//	g.Step(now, gateway.Message{RoutingID: id, Bytes: frame})
//	g.Tick(now)
//	for _, o := range g.Ready() { ... Send, Close, Propose, Read ... }
//
// Ready hands the outputs over; there is no Advance, because the gateway never needs to
// know that an output was carried out: what went wrong comes back as an input
// (ConnectionClosed, ProposalFailed, ReadFailed), and every applied log entry comes back
// as Applied.
//
// The package is pure: time comes in as the now argument (milliseconds since the Unix
// epoch), new session ids come in with the Message that needs one (see NeedsSessionID),
// and the replicated state is read through the SessionView port. docs/gateway.md has the
// rules.
package gateway
