package session_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/zraft/zraft/domain/session"
)

// counterApp is the tiny example application of the tests. Commands are text:
//
//	inc NAME               add one to counter NAME, reply the new value
//	get NAME               reply counter NAME (also as a query)
//	fail MSG               an application error MSG
//	notify SESSION MSG     send MSG to SESSION, reply its sequence number
//	push K=V MSG           send MSG to the next session with capability K=V (fair rotation)
//	broadcast K=V MSG      send MSG to every session with K=V, in rotation order
//
// Hooks: a session with capability greet=yes gets "hello" on creation; a session with
// reject=... is refused; when a session ends, the next session with watch=yes is told.
// It counts every (session, payload) it applies, so tests can check "at most once".
type counterApp struct {
	counters map[string]int64
	applied  map[string]int64 // session + "\x00" + payload -> times applied
	ticks    int64
}

func newCounterApp() *counterApp {
	return &counterApp{counters: map[string]int64{}, applied: map[string]int64{}}
}

func (a *counterApp) Apply(env *session.Env, s string, payload []byte) ([]byte, error) {
	a.applied[s+"\x00"+string(payload)]++
	verb, rest, _ := strings.Cut(string(payload), " ")
	switch verb {
	case "inc":
		a.counters[rest]++
		return []byte(strconv.FormatInt(a.counters[rest], 10)), nil
	case "get":
		return []byte(strconv.FormatInt(a.counters[rest], 10)), nil
	case "fail":
		return nil, &session.AppError{Data: []byte(rest)}
	case "notify":
		target, msg, _ := strings.Cut(rest, " ")
		seq, err := env.Send(target, []byte(msg))
		if err != nil {
			return nil, err
		}
		return []byte(strconv.FormatUint(seq, 10)), nil
	case "push":
		kv, msg, _ := strings.Cut(rest, " ")
		k, v, _ := strings.Cut(kv, "=")
		target, ok := env.NextWithCapability(k, v)
		if !ok {
			return nil, &session.AppError{Data: []byte("no worker")}
		}
		seq, err := env.Send(target, []byte(msg))
		if err != nil {
			return nil, err
		}
		return fmt.Appendf(nil, "%s#%d", target, seq), nil
	case "broadcast":
		kv, msg, _ := strings.Cut(rest, " ")
		k, v, _ := strings.Cut(kv, "=")
		var out []string
		for _, target := range env.SessionsWithCapability(k, v) {
			if _, err := env.Send(target, []byte(msg)); err != nil {
				out = append(out, target+":"+err.Error())
				continue
			}
			out = append(out, target)
		}
		return []byte(strings.Join(out, ",")), nil
	}
	return nil, &session.AppError{Data: []byte("unknown command")}
}

func (a *counterApp) ApplyInternal(env *session.Env, payload []byte) ([]byte, error) {
	if string(payload) != "tick" {
		return nil, errors.New("unknown internal command")
	}
	a.ticks++
	return []byte(strconv.FormatInt(a.ticks, 10)), nil
}

func (a *counterApp) Query(_ string, payload []byte) ([]byte, error) {
	name, ok := strings.CutPrefix(string(payload), "get ")
	if !ok {
		return nil, &session.AppError{Data: []byte("unknown query")}
	}
	return []byte(strconv.FormatInt(a.counters[name], 10)), nil
}

func (a *counterApp) SessionCreated(env *session.Env, s string, caps []session.Capability) error {
	for _, c := range caps {
		switch c.Key {
		case "reject":
			if _, err := env.Send(s, []byte("doomed")); err != nil {
				return err
			}
			return &session.AppError{Data: []byte("refused: " + c.Value)}
		case "greet":
			if _, err := env.Send(s, []byte("hello")); err != nil {
				return err
			}
		}
	}
	return nil
}

func (a *counterApp) SessionEnded(env *session.Env, s string, reason session.EndReason) {
	if w, ok := env.NextWithCapability("watch", "yes"); ok {
		_, _ = env.Send(w, []byte(s+" "+reason.String()))
	}
}

// AppendSnapshot writes the counters and tallies sorted by key: never in map order.
func (a *counterApp) AppendSnapshot(dst []byte) []byte {
	dst = binary.AppendVarint(dst, a.ticks)
	for _, m := range []map[string]int64{a.counters, a.applied} {
		keys := slices.Sorted(maps.Keys(m))
		dst = binary.AppendUvarint(dst, uint64(len(keys)))
		for _, k := range keys {
			dst = binary.AppendUvarint(dst, uint64(len(k)))
			dst = append(dst, k...)
			dst = binary.AppendVarint(dst, m[k])
		}
	}
	return dst
}

var errAppSnapshot = errors.New("counterApp: bad snapshot")

// Restore is strict (sorted unique keys, no trailing bytes) so that a restored snapshot
// re-encodes to the same bytes.
func (a *counterApp) Restore(b []byte) error {
	orig := b
	ticks, n := binary.Varint(b)
	if n <= 0 {
		return errAppSnapshot
	}
	b = b[n:]
	var maps [2]map[string]int64
	for i := range maps {
		count, n := binary.Uvarint(b)
		if n <= 0 || count > uint64(len(b)) {
			return errAppSnapshot
		}
		b = b[n:]
		maps[i] = make(map[string]int64, count)
		prev := ""
		for j := uint64(0); j < count; j++ {
			l, n := binary.Uvarint(b)
			if n <= 0 || l > uint64(len(b)-n) {
				return errAppSnapshot
			}
			k := string(b[n : n+int(l)])
			b = b[n+int(l):]
			v, n := binary.Varint(b)
			if n <= 0 || (j > 0 && k <= prev) {
				return errAppSnapshot
			}
			b = b[n:]
			maps[i][k], prev = v, k
		}
	}
	if len(b) != 0 {
		return errAppSnapshot
	}
	restored := &counterApp{ticks: ticks, counters: maps[0], applied: maps[1]}
	if !bytes.Equal(restored.AppendSnapshot(nil), orig) {
		return errAppSnapshot // non-minimal varints
	}
	*a = *restored
	return nil
}

var _ session.Application = (*counterApp)(nil)
