package kv_test

import (
	"fmt"

	"github.com/zraft/zraft/domain/session"
	"github.com/zraft/zraft/protocol/kvwire"
	"github.com/zraft/zraft/server/kv"
)

func Example() {
	app := kv.New()
	m := session.New(session.Config{}, app)

	must := func(res session.Result, err error) session.Result {
		if err != nil {
			panic(err)
		}
		return res
	}
	must(m.Apply(1, session.CreateSession{At: 1000, ID: "watcher"}))
	must(m.Apply(2, session.CreateSession{At: 1000, ID: "writer"}))

	watch, _ := kvwire.AppendCommand(nil, kvwire.Watch{Key: "color"})
	must(m.Apply(3, session.ClientRequest{At: 1001, Session: "watcher", RequestID: 1, LowestPending: 1, Payload: watch}))

	set, _ := kvwire.AppendCommand(nil, kvwire.Set{Key: "color", Value: "blue"})
	res := must(m.Apply(4, session.ClientRequest{At: 1002, Session: "writer", RequestID: 1, LowestPending: 1, Payload: set}))
	for _, r := range res.ServerRequests {
		n, _ := kvwire.DecodeNotification(r.Payload)
		fmt.Printf("to %s #%d: %s=%s\n", r.Session, r.Seq, n.Key, n.Value)
	}

	get, _ := kvwire.AppendGet(nil, kvwire.Get{Key: "color"})
	out := m.Query("writer", get)
	got, _ := kvwire.DecodeGetResult(out.Data)
	fmt.Println("get:", got.Value, got.Found)
	// Output:
	// to watcher #1: color=blue
	// get: blue true
}
