// Package zmtp implements ZeroMQ CLIENT and SERVER sockets (ZMTP 3.1, NULL security)
// over TCP, hardened against hostile and slow peers, byte-compatible with libzmq's own
// CLIENT and SERVER sockets (and so with zio-raft's clients).
//
// A Server (Listen) accepts only CLIENT peers, gives every connection a RoutingID and
// reports it through Recv as EventOpened, EventMessage and EventClosed. Send never blocks:
// each connection has a bounded queue, and a connection whose queue overflows is closed
// and reported, never left silently short of a message. A Client (NewClient, Connect)
// talks to one SERVER endpoint at a time, reconnects with exponential backoff and jitter,
// and reports EventUp and EventDown around every connection.
//
// Messages are single frames; a multipart message, a frame above the maximum message
// size, a malformed command or a handshake that does not finish in time closes that one
// connection. Both sides answer PING with PONG, send their own PINGs and close a
// connection from which nothing arrived within the heartbeat timeout.
//
// The framing is our own rather than go-zeromq/zmq4's Conn, whose decoders trust length
// fields and panic on unknown socket types; docs/transport.md explains the design.
package zmtp
