// Package domain is the deterministic core of zraft. Its sub-packages are pure state
// machines: they read no clock, use no randomness, start no goroutines and do no I/O.
// Time and identifiers come in as data and every decision goes out as data.
//
//   - session: the replicated session state machine applied from the Raft log.
//   - gateway: the leader-local engine that serves client connections.
//   - clientsession: the client-side engine of a session.
package domain
