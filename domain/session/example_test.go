package session_test

import (
	"fmt"

	"github.com/zraft/zraft/domain/session"
)

// A member applies committed entries in log order; every member gets the same results.
// counterApp is the example application of example_app_test.go.
func Example() {
	m := session.New(session.Config{SessionTimeout: 10_000}, newCounterApp())
	apply := func(index uint64, cmd session.Command) session.Result {
		entry, err := session.EncodeCommand(nil, cmd) // what the leader proposes
		if err != nil {
			panic(err)
		}
		res, err := m.ApplyEntry(index, entry) // what every member applies
		if err != nil {
			panic(err)
		}
		return res
	}
	apply(1, session.CreateSession{At: 1000, ID: "client-1"})
	apply(2, session.CreateSession{At: 1000, ID: "worker-1", Capabilities: []session.Capability{{Key: "role", Value: "worker"}}})

	res := apply(3, session.ClientRequest{At: 1001, Session: "client-1", RequestID: 1, LowestPending: 1, Payload: []byte("push role=worker job-42")})
	fmt.Printf("reply %s\n", res.Outcomes[0].Data)
	for _, sr := range res.ServerRequests {
		fmt.Printf("send %q to %s as #%d\n", sr.Payload, sr.Session, sr.Seq)
	}

	// The client did not get the reply and retries: the cache answers, the job is not
	// pushed twice.
	res = apply(4, session.ClientRequest{At: 1002, Session: "client-1", RequestID: 1, LowestPending: 1, Payload: []byte("push role=worker job-42")})
	fmt.Printf("retry: reply %s, cached %v, %d server requests\n", res.Outcomes[0].Data, res.Outcomes[0].Cached, len(res.ServerRequests))

	// The worker acknowledges; nobody talks for longer than the timeout.
	apply(5, session.Acks{At: 1003, Acks: []session.Ack{{Session: "worker-1", UpTo: 1}}})
	res = apply(6, session.Redelivery{At: 12_000})
	fmt.Printf("expired %v\n", res.Expired)
	// Output:
	// reply worker-1#1
	// send "job-42" to worker-1 as #1
	// retry: reply worker-1#1, cached true, 0 server requests
	// expired [client-1 worker-1]
}
