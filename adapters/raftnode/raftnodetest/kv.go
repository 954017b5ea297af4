// Package raftnodetest holds test helpers for raftnode: a cluster harness of real
// members on 127.0.0.1 (kill, restart on the same data dir, partition, heal) and a small
// deterministic key-value state machine.
package raftnodetest

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sort"
	"sync"

	"github.com/zraft/zraft/adapters/raftnode"
)

// KV is a deterministic key-value raftnode.StateMachine. Commands are made with SetCmd;
// Apply returns the command's log index (uint64) or an error value for a malformed one.
// Get and Len must be called under the node's apply lock (inside Node.Read).
type KV struct {
	m       map[string]string
	applied uint64
	// Restores counts snapshot restores (installed or loaded at start).
	restores int
	mu       sync.Mutex // guards restores only: tests read it from other goroutines
}

var _ raftnode.StateMachine = (*KV)(nil)

// NewKV returns an empty KV.
func NewKV() *KV { return &KV{m: map[string]string{}} }

// SetCmd encodes "set key to value".
func SetCmd(key, value string) []byte {
	b := binary.BigEndian.AppendUint16([]byte{'S'}, uint16(len(key)))
	b = append(b, key...)
	return append(b, value...)
}

// ErrBadCommand is the result of applying a malformed command.
var ErrBadCommand = errors.New("raftnodetest: bad command")

// Apply implements raftnode.StateMachine.
func (kv *KV) Apply(index, _ uint64, data []byte) any {
	kv.applied = index
	if len(data) < 3 || data[0] != 'S' {
		return ErrBadCommand
	}
	n := int(binary.BigEndian.Uint16(data[1:]))
	if len(data)-3 < n {
		return ErrBadCommand
	}
	kv.m[string(data[3:3+n])] = string(data[3+n:])
	return index
}

// Get returns the value of key (under the apply lock).
func (kv *KV) Get(key string) (string, bool) {
	v, ok := kv.m[key]
	return v, ok
}

// Len returns the number of keys (under the apply lock).
func (kv *KV) Len() int { return len(kv.m) }

// Restores returns how many times a snapshot was restored into kv.
func (kv *KV) Restores() int {
	kv.mu.Lock()
	defer kv.mu.Unlock()
	return kv.restores
}

// Snapshot implements raftnode.StateMachine: it copies the map.
func (kv *KV) Snapshot() (raftnode.Snapshot, error) {
	c := make(map[string]string, len(kv.m))
	for k, v := range kv.m {
		c[k] = v
	}
	return kvSnapshot(c), nil
}

// Restore implements raftnode.StateMachine.
func (kv *KV) Restore(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	m := map[string]string{}
	for len(b) > 0 {
		var k, v string
		if k, b, err = cut32(b); err != nil {
			return err
		}
		if v, b, err = cut32(b); err != nil {
			return err
		}
		m[k] = v
	}
	kv.m = m
	kv.mu.Lock()
	kv.restores++
	kv.mu.Unlock()
	return nil
}

func cut32(b []byte) (string, []byte, error) {
	if len(b) < 4 || uint64(len(b)-4) < uint64(binary.BigEndian.Uint32(b)) {
		return "", nil, fmt.Errorf("%w: truncated snapshot", ErrBadCommand)
	}
	n := binary.BigEndian.Uint32(b)
	return string(b[4 : 4+n]), b[4+n:], nil
}

type kvSnapshot map[string]string

func (s kvSnapshot) Persist(w io.Writer) error {
	keys := make([]string, 0, len(s))
	for k := range s {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var buf bytes.Buffer
	for _, k := range keys {
		buf.Write(binary.BigEndian.AppendUint32(nil, uint32(len(k))))
		buf.WriteString(k)
		buf.Write(binary.BigEndian.AppendUint32(nil, uint32(len(s[k]))))
		buf.WriteString(s[k])
	}
	_, err := w.Write(buf.Bytes())
	return err
}

func (kvSnapshot) Release() {}
