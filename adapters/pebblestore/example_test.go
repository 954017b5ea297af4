package pebblestore_test

import (
	"fmt"
	"os"

	"github.com/hashicorp/raft"
	"github.com/zraft/zraft/adapters/pebblestore"
)

// A Store serves raft as both its LogStore and its StableStore:
// raft.NewRaft(conf, fsm, store, store, snapshots, transport).
func ExampleOpen() {
	dir, err := os.MkdirTemp("", "pebblestore-example")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)

	store, err := pebblestore.Open(dir)
	if err != nil {
		panic(err)
	}
	defer store.Close()

	if err := store.StoreLogs([]*raft.Log{
		{Index: 1, Term: 1, Type: raft.LogCommand, Data: []byte("a")},
		{Index: 2, Term: 1, Type: raft.LogCommand, Data: []byte("b")},
	}); err != nil {
		panic(err)
	}
	last, _ := store.LastIndex()
	var l raft.Log
	if err := store.GetLog(2, &l); err != nil {
		panic(err)
	}
	_, err = store.GetUint64([]byte("CurrentTerm"))
	fmt.Println(last, string(l.Data), err, store.Stats().Batches)
	// Output: 2 b not found 1
}
