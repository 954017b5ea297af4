package pebblestore

import (
	"strings"
	"sync/atomic"

	"github.com/cockroachdb/pebble/v2/vfs"
)

// syncCounter counts durable syncs issued through a countingFS. The counts
// back Stats and the test that proves one WAL sync per StoreLogs batch.
type syncCounter struct {
	wal atomic.Uint64 // syncs of write-ahead-log files (*.log)
	all atomic.Uint64 // syncs of any file or directory, WAL included
}

// countingFS wraps a vfs.FS and counts Sync, SyncData and full SyncTo calls
// on the files it opens for writing. It changes no behaviour.
type countingFS struct {
	vfs.FS
	n *syncCounter
}

func (fs countingFS) wrap(f vfs.File, name string, err error) (vfs.File, error) {
	if err != nil {
		return f, err
	}
	return &countingFile{File: f, n: fs.n, wal: strings.HasSuffix(name, ".log")}, nil
}

func (fs countingFS) Create(name string, c vfs.DiskWriteCategory) (vfs.File, error) {
	f, err := fs.FS.Create(name, c)
	return fs.wrap(f, name, err)
}

func (fs countingFS) OpenReadWrite(name string, c vfs.DiskWriteCategory, opts ...vfs.OpenOption) (vfs.File, error) {
	f, err := fs.FS.OpenReadWrite(name, c, opts...)
	return fs.wrap(f, name, err)
}

func (fs countingFS) ReuseForWrite(oldname, newname string, c vfs.DiskWriteCategory) (vfs.File, error) {
	f, err := fs.FS.ReuseForWrite(oldname, newname, c)
	return fs.wrap(f, newname, err)
}

func (fs countingFS) OpenDir(name string) (vfs.File, error) {
	f, err := fs.FS.OpenDir(name)
	return fs.wrap(f, "", err)
}

// Unwrap returns the wrapped FS, as vfs.Root expects of a wrapping FS.
func (fs countingFS) Unwrap() vfs.FS { return fs.FS }

type countingFile struct {
	vfs.File
	n   *syncCounter
	wal bool
}

func (f *countingFile) count() {
	f.n.all.Add(1)
	if f.wal {
		f.n.wal.Add(1)
	}
}

func (f *countingFile) Sync() error {
	f.count()
	return f.File.Sync()
}

func (f *countingFile) SyncData() error {
	f.count()
	return f.File.SyncData()
}

func (f *countingFile) SyncTo(length int64) (bool, error) {
	full, err := f.File.SyncTo(length)
	if full {
		f.count()
	}
	return full, err
}
