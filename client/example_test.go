package client_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"time"

	"github.com/zraft/zraft/client"
	"github.com/zraft/zraft/client/internal/testserver"
	"github.com/zraft/zraft/protocol/kvwire"
)

// startCluster starts the client module's in-process test double of a three-member
// cluster; against a real cluster, use its endpoints.
func startCluster() *testserver.Cluster {
	cluster, err := testserver.Start(testserver.Config{Members: 3})
	if err != nil {
		log.Fatal(err)
	}
	return cluster
}

func Example() {
	cluster := startCluster()
	defer cluster.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	c, err := client.Dial(ctx, cluster.Endpoints()) // "node-1=tcp://127.0.0.1:…,node-2=…,node-3=…"
	if err != nil {
		log.Fatal(err)
	}
	set, _ := kvwire.AppendCommand(nil, kvwire.Set{Key: "color", Value: "blue"})
	if _, err := c.Submit(ctx, set); err != nil { // applied exactly once
		log.Fatal(err)
	}
	get, _ := kvwire.AppendGet(nil, kvwire.Get{Key: "color"})
	res, err := c.Query(ctx, get) // linearizable
	if err != nil {
		log.Fatal(err)
	}
	r, _ := kvwire.DecodeGetResult(res)
	fmt.Println("color:", r.Value)

	if err := c.Close(ctx); err != nil {
		log.Fatal(err)
	}
	_, err = c.Submit(ctx, set)
	fmt.Println("after close:", errors.Is(err, client.ErrClosed))
	// Output:
	// color: blue
	// after close: true
}

func ExampleClient_SubmitAsync() {
	cluster := startCluster()
	defer cluster.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := client.Dial(ctx, cluster.Endpoints())
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close(ctx)

	// Many commands in flight from one goroutine, applied in this order.
	var calls []*client.Call
	for i := range 3 {
		cmd, _ := kvwire.AppendCommand(nil, kvwire.Set{Key: "counter", Value: fmt.Sprint(i)})
		calls = append(calls, c.SubmitAsync(ctx, cmd))
	}
	for _, call := range calls {
		if _, err := call.Wait(ctx); err != nil {
			log.Fatal(err)
		}
	}
	get, _ := kvwire.AppendGet(nil, kvwire.Get{Key: "counter"})
	res, _ := c.Query(ctx, get, client.WithConsistency(client.Lease))
	r, _ := kvwire.DecodeGetResult(res)
	fmt.Println("counter:", r.Value)
	// Output:
	// counter: 2
}

func ExampleClient_ServerRequests() {
	cluster := startCluster()
	defer cluster.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := client.Dial(ctx, cluster.Endpoints())
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close(ctx)

	// Watching a key makes the key-value application send a server request for each
	// change; the client acknowledges each and delivers them in order, once.
	watch, _ := kvwire.AppendCommand(nil, kvwire.Watch{Key: "job"})
	if _, err := c.Submit(ctx, watch); err != nil {
		log.Fatal(err)
	}
	for _, v := range []string{"build", "test"} {
		set, _ := kvwire.AppendCommand(nil, kvwire.Set{Key: "job", Value: v})
		if _, err := c.Submit(ctx, set); err != nil {
			log.Fatal(err)
		}
	}
	for range 2 {
		r := <-c.ServerRequests()
		n, _ := kvwire.DecodeNotification(r.Payload)
		fmt.Println(r.ID, n.Key, n.Value)
	}
	// Output:
	// 1 job build
	// 2 job test
}

func ExampleClient_Events() {
	cluster := startCluster()
	defer cluster.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := client.Dial(ctx, cluster.Endpoints())
	if err != nil {
		log.Fatal(err)
	}
	for ev := range c.Events() {
		if ev.Kind == client.EventConnected { // a slow first attempt may come before
			fmt.Println(ev.Kind, ev.Member, ev.New)
			break
		}
	}
	_ = c.Close(ctx)
	var last client.Event
	for ev := range c.Events() { // closed once the client is
		last = ev
	}
	fmt.Println(last.Kind)
	// Output:
	// connected node-1 true
	// closed
}

func ExampleParseEndpoints() {
	members, err := client.ParseEndpoints("node-1=tcp://10.0.0.1:7001,node-2=tcp://10.0.0.2:7001")
	if err != nil {
		log.Fatal(err)
	}
	for _, m := range members {
		fmt.Println(m.ID, m.Endpoint)
	}
	// Output:
	// node-1 tcp://10.0.0.1:7001
	// node-2 tcp://10.0.0.2:7001
}
