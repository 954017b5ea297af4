// Package zmtp implements ZeroMQ CLIENT and SERVER sockets (ZMTP 3.1) on top of
// go-zeromq/zmq4, hardened against hostile and slow peers.
package zmtp
