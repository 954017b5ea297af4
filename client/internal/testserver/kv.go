package testserver

import (
	"sort"

	"github.com/zraft/zraft/protocol/kvwire"
)

// KV is the key-value example application (zio-raft's kvstore payloads, plus Delete),
// enough for the client's kv helpers and the CLI: Set and Delete notify watchers,
// Watch sends the current value at once, a malformed payload is an application error
// whose result starts with "kv: ".
type KV struct {
	data     map[string]string
	watchers map[string]map[string]bool // key -> sessions
}

// NewKV returns an empty store.
func NewKV() *KV { return &KV{data: map[string]string{}, watchers: map[string]map[string]bool{}} }

// Apply implements App.
func (kv *KV) Apply(session string, payload []byte, push func(string, []byte)) []byte {
	cmd, err := kvwire.DecodeCommand(payload)
	if err != nil {
		return []byte("kv: malformed payload: " + err.Error())
	}
	notify := func(key, value string) {
		n, _ := kvwire.AppendNotification(nil, kvwire.Notification{Key: key, Value: value})
		ids := make([]string, 0, len(kv.watchers[key]))
		for id := range kv.watchers[key] {
			ids = append(ids, id)
		}
		sort.Strings(ids)
		for _, id := range ids {
			push(id, n)
		}
	}
	switch cmd := cmd.(type) {
	case kvwire.Set:
		kv.data[cmd.Key] = cmd.Value
		notify(cmd.Key, cmd.Value)
	case kvwire.Delete:
		if _, ok := kv.data[cmd.Key]; ok {
			delete(kv.data, cmd.Key)
			notify(cmd.Key, "")
		}
	case kvwire.Watch:
		w := kv.watchers[cmd.Key]
		if w == nil {
			w = map[string]bool{}
			kv.watchers[cmd.Key] = w
		}
		if !w[session] {
			w[session] = true
			if v, ok := kv.data[cmd.Key]; ok {
				n, _ := kvwire.AppendNotification(nil, kvwire.Notification{Key: cmd.Key, Value: v})
				push(session, n)
			}
		}
	}
	return []byte{}
}

// Query implements App.
func (kv *KV) Query(_ string, payload []byte) []byte {
	g, err := kvwire.DecodeGet(payload)
	if err != nil {
		return []byte("kv: malformed payload: " + err.Error())
	}
	v, ok := kv.data[g.Key]
	res, _ := kvwire.AppendGetResult(nil, kvwire.GetResult{Value: v, Found: ok})
	return res
}

// SessionEnded implements App.
func (kv *KV) SessionEnded(session string) {
	for _, w := range kv.watchers {
		delete(w, session)
	}
}
