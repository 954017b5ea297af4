package clientsession_test

import (
	"fmt"

	"github.com/zraft/zraft/domain/clientsession"
	"github.com/zraft/zraft/protocol"
)

// A shell's view: it performs the outputs and feeds back what happened. Here the
// "server" answers are built by hand; a real shell reads them from the socket.
func Example() {
	e, err := clientsession.New(clientsession.Config{
		Members:      []protocol.Member{{ID: "node-1", Endpoint: "tcp://127.0.0.1:7001"}},
		Capabilities: protocol.Capabilities{{Key: "app", Value: "kv"}},
	})
	if err != nil {
		panic(err)
	}
	show := func(out []clientsession.Output, err error) {
		if err != nil {
			panic(err)
		}
		for _, o := range out {
			switch o := o.(type) {
			case clientsession.Send:
				m, _ := protocol.DecodeClientMessage(o.Bytes)
				fmt.Printf("send on %d: %s\n", o.Conn, m.ClientCode())
			case clientsession.Deliver:
				fmt.Printf("deliver %d: %q %v\n", o.Handle, o.Result, o.Err)
			default:
				fmt.Printf("%T %+v\n", o, o)
			}
		}
	}
	reply := func(m protocol.ServerMessage) clientsession.Received {
		b, _ := protocol.AppendServerMessage(nil, m)
		return clientsession.Received{Conn: 1, Bytes: b}
	}
	now := int64(1705680000000)
	show(e.Tick(now), nil)
	show(e.Step(now, clientsession.ConnectionUp{Conn: 1, Nonce: 42}))
	show(e.Step(now+1, reply(&protocol.SessionCreated{SessionID: "s-1", Nonce: 42})))
	show(e.Step(now+2, clientsession.Submit{Handle: 7, Payload: []byte("set x 1")}))
	show(e.Step(now+3, reply(&protocol.ClientResponse{RequestID: 1, Result: []byte("ok")})))
	show(e.Step(now+4, clientsession.Close{}))
	// Output:
	// clientsession.Connect {Conn:1 Member:node-1 Endpoint:tcp://127.0.0.1:7001}
	// send on 1: CreateSession
	// clientsession.Event {Kind:connected Member:node-1 SessionID:s-1 New:true Reason: Err:<nil>}
	// send on 1: ClientRequest
	// deliver 7: "ok" <nil>
	// send on 1: CloseSession
	// clientsession.Disconnect {Conn:1}
	// clientsession.Event {Kind:closed Member: SessionID:s-1 New:false Reason:closed by the application Err:clientsession: closed}
}
