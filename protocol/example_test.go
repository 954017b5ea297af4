package protocol_test

import (
	"fmt"

	"github.com/zraft/zraft/protocol"
)

// A client encodes a request into a reused buffer; the server decodes it and switches on
// the message type. The decoded Payload aliases the buffer it was decoded from.
func Example() {
	buf := make([]byte, 0, 256)
	buf, err := protocol.AppendClientMessage(buf, &protocol.ClientRequest{
		RequestID:              7,
		LowestPendingRequestID: 5,
		Payload:                []byte("hi"),
		CreatedAt:              1705680000000,
	})
	if err != nil {
		panic(err)
	}
	fmt.Printf("% x\n", buf)

	msg, err := protocol.DecodeClientMessage(buf)
	if err != nil {
		panic(err)
	}
	switch m := msg.(type) {
	case *protocol.ClientRequest:
		fmt.Printf("request %d (lowest pending %d): %q\n", m.RequestID, m.LowestPendingRequestID, m.Payload)
	case *protocol.Query:
		fmt.Println("query", m.CorrelationID)
	}
	// Output:
	// 7a 72 61 66 74 01 04 00 00 00 00 00 00 00 07 00 00 00 00 00 00 00 05 00 00 00 02 68 69 00 00 01 8d 22 73 54 00
	// request 7 (lowest pending 5): "hi"
}

// A server answers a CreateSession with extensions only when the client declared them.
func ExampleNegotiateExtensions() {
	create := &protocol.CreateSession{
		Capabilities: protocol.WithExtensionCapability(protocol.Capabilities{{Key: "role", Value: "worker"}}),
		Nonce:        42,
	}
	reply := &protocol.SessionCreated{SessionID: "6f1c…", Nonce: create.Nonce}
	if v := protocol.NegotiateExtensions(create.Capabilities, protocol.ExtensionVersion); v != 0 {
		reply.Ext = &protocol.Extensions{Version: v, Members: []protocol.Member{{ID: "node-1", Endpoint: "tcp://10.0.0.1:7001"}}}
	}
	b, _ := protocol.AppendServerMessage(nil, reply)
	fmt.Printf("%d bytes, extension version %d\n", len(b), reply.Ext.Version)
	// Output:
	// 76 bytes, extension version 1
}

func ExampleDecodeError() {
	_, err := protocol.DecodeServerMessage([]byte("zraft\x01\x03\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00"))
	fmt.Println(err)
	// Output:
	// decode SessionRejected.nonce at byte 8: protocol: zero nonce
}
