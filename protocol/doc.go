// Package protocol holds the client–server wire messages of zraft, byte-compatible
// with version 1 of the zio-raft protocol, and their codecs.
package protocol
