// Package server will compose a zraft cluster member from the adapters: the shell that
// drives the gateway engine, the Raft node and the client transport.
package server
