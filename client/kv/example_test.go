package kv_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/zraft/zraft/client"
	"github.com/zraft/zraft/client/internal/testserver"
	"github.com/zraft/zraft/client/kv"
)

// Set, read and watch keys. The cluster here is the client module's in-process test
// double; against a real cluster, pass its endpoints (for example
// "node-1=tcp://10.0.0.1:7001,node-2=tcp://10.0.0.2:7001").
func Example() {
	cluster, err := testserver.Start(testserver.Config{Members: 3})
	if err != nil {
		log.Fatal(err)
	}
	defer cluster.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	c, err := client.Dial(ctx, cluster.Endpoints())
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close(ctx)
	store := kv.New(c)

	if err := store.Watch(ctx, "greeting"); err != nil {
		log.Fatal(err)
	}
	if err := store.Set(ctx, "greeting", "hello"); err != nil {
		log.Fatal(err)
	}
	value, found, err := store.Get(ctx, "greeting")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("get:", value, found)

	n, err := kv.ParseNotification(<-c.ServerRequests())
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("notification %d: %s=%s\n", n.ID, n.Key, n.Value)
	// Output:
	// get: hello true
	// notification 1: greeting=hello
}
