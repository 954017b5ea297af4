package server

import (
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/hashicorp/raft"

	"github.com/zraft/zraft/adapters/pebblestore"
)

// TestStoresOpenTheExistingDataDirLayout writes a data dir the way zraftd always has
// (<dir>/raft a Pebble log and stable store, <dir>/snapshots file snapshots) and checks
// that the stores the server now takes from raftnode open it with its log, term and
// snapshot intact, so existing members keep their state.
func TestStoresOpenTheExistingDataDirLayout(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "member")
	if err := os.MkdirAll(dir, 0o750); err != nil {
		t.Fatal(err)
	}
	db, err := pebblestore.Open(filepath.Join(dir, "raft"))
	if err != nil {
		t.Fatal(err)
	}
	if err := db.StoreLogs([]*raft.Log{
		{Index: 1, Term: 3, Type: raft.LogCommand, Data: []byte("one")},
		{Index: 2, Term: 3, Type: raft.LogCommand, Data: []byte("two")},
	}); err != nil {
		t.Fatal(err)
	}
	if err := db.SetUint64([]byte("CurrentTerm"), 3); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	snaps, err := raft.NewFileSnapshotStore(filepath.Join(dir, "snapshots"), 2, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	sink, err := snaps.Create(1, 1, 3, raft.Configuration{}, 0, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sink.Write([]byte("state")); err != nil {
		t.Fatal(err)
	}
	if err := sink.Close(); err != nil {
		t.Fatal(err)
	}

	st, err := pebbleStores(2, testLogger())(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := st.Close(); err != nil {
			t.Error(err)
		}
	}()
	if last, err := st.Log.LastIndex(); err != nil || last != 2 {
		t.Fatalf("last index = %d, %v; want 2", last, err)
	}
	var l raft.Log
	if err := st.Log.GetLog(2, &l); err != nil || string(l.Data) != "two" {
		t.Fatalf("entry 2 = %q, %v; want \"two\"", l.Data, err)
	}
	if term, err := st.Stable.GetUint64([]byte("CurrentTerm")); err != nil || term != 3 {
		t.Fatalf("current term = %d, %v; want 3", term, err)
	}
	list, err := st.Snapshots.List()
	if err != nil || len(list) != 1 || list[0].Index != 1 {
		t.Fatalf("snapshots = %+v, %v; want the one at index 1", list, err)
	}
}

// TestStoresMakeTheDataDirPrivate: a new data dir is not readable by other local users.
func TestStoresMakeTheDataDirPrivate(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a", "member")
	st, err := pebbleStores(2, testLogger())(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if perm := fi.Mode().Perm(); perm&0o007 != 0 {
		t.Fatalf("data dir mode %o: readable by others", perm)
	}
	for _, sub := range []string{"raft", "snapshots"} {
		if _, err := os.Stat(filepath.Join(dir, sub)); err != nil {
			t.Errorf("layout: %v", err)
		}
	}
}
