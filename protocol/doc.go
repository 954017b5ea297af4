// Package protocol holds the client–server wire messages of zraft, byte-compatible
// with version 1 of the zio-raft protocol, and their codecs.
//
// Each direction has its own sealed message interface, ClientMessage and ServerMessage,
// implemented by pointer types (*ClientRequest, *SessionCreated, …). Encode with
// AppendClientMessage / AppendServerMessage, which append to a caller's buffer and do not
// allocate when it has room; decode one ZeroMQ frame with DecodeClientMessage /
// DecodeServerMessage, or with a Decoder to set the maximum message size.
//
// Aliasing: decoded []byte fields (Payload, Result, unknown extension values) point into
// the decoder's input. Keep the input unchanged while a message is in use, or clone the
// fields you keep. Strings are copies.
//
// Errors: decoders return a *DecodeError naming the message, field and byte offset and
// wrapping a sentinel (ErrTruncated, ErrBadSignature, …); encoders return an
// *EncodeError. Neither panics on any input. Reason codes a decoder does not know are
// kept as their number (Known() reports false) so that they re-encode unchanged.
//
// Extensions: any message may end with a zraft extension block (Extensions) carrying
// trace context, the cluster's members, a read-consistency level and the negotiated
// extension version. A zio-raft peer never sees one: a server sends blocks only on
// sessions whose CreateSession declared ExtensionCapabilityKey, and a client only after
// the server confirmed the version. docs/protocol.md describes the layout, the
// negotiation and the compatibility promise.
//
// The key-value example's payloads are in the subpackage kvwire.
package protocol
