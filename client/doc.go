// Package client will be the Go client library of zraft: durable sessions with
// exactly-once commands, linearizable queries and acknowledged server-initiated requests.
package client
