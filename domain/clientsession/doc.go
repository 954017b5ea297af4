// Package clientsession is the client-side engine of a zraft session: a pure state
// machine that a goroutine shell (package client) drives with inputs and whose outputs it
// performs. It reads no clock, draws no random numbers and does no I/O: time comes in as
// the now argument (Unix milliseconds, also used for wire timestamps), nonces and
// correlation ids come in with the inputs, and backoff jitter comes from an xorshift
// generator seeded from Config.Seed.
//
// # Driving the engine
//
//	e, err := clientsession.New(cfg)
//	out := e.Tick(now)                  // starts connecting
//	out, err = e.Step(now, clientsession.Submit{Handle: h, Payload: p})
//	deadline, ok := e.NextDeadline()    // when to call Tick again at the latest
//
// Every call returns the outputs it produced, in the order the shell must perform them
// (a Send before the Disconnect that follows it). The returned slice and everything in
// it belong to the caller; the engine keeps no reference to an input's byte slices
// after the call returns.
//
// # Connections
//
// The engine asks for one connection at a time with Connect{Conn}. The shell answers
// with ConnectionUp{Conn, Nonce} (or ConnectionDown{Conn}) and feeds every message of
// that connection as Received{Conn, Bytes}. Each Connect{Conn} is followed, sooner or
// later, by exactly one Disconnect{Conn}, also when the shell reported the connection
// down; inputs about any other connection are ignored (an Ignored output says so).
//
// See docs/client-engine.md for the states, the transitions and the rules.
package clientsession
