// Package testserver is a protocol-level test double of a zraft cluster, for the client
// module's tests, examples and CLI tests. It is NOT the zraft server: there is no Raft,
// no log and no disk. Its members are real ZeroMQ SERVER sockets (adapters/zmtp) on
// 127.0.0.1 speaking protocol v1 (and the extension negotiation) faithfully enough to
// drive the client through what the real cluster does: sessions created only on the
// leader, NotLeader redirects with a leader hint, a response cache by (session, request
// id) with the lowest-pending watermark and ResponseEvicted, ContinueSession with
// re-sent server requests, keep-alive echo, session expiry, cumulative acknowledgements
// and redelivery. The "replicated state" is one in-memory structure shared by the
// members under a mutex, so a leader change loses nothing, as Raft would guarantee.
//
// The cluster tests with the real members live in the server and integration modules,
// which cannot be imported here (the client must not depend on hashicorp/raft or Pebble).
package testserver
