package kv

import (
	"errors"
	"fmt"

	"github.com/zraft/zraft/domain/session"
	"github.com/zraft/zraft/protocol/kvwire"
)

// Errors the App returns. Through a session.Machine they become application error
// results (session.AppFailed, with err.Error() as the bytes): the machine never stops.
var (
	// ErrMalformed: a command, query or internal payload that does not decode.
	ErrMalformed = errors.New("kv: malformed payload")
	// ErrSnapshot: Restore was given bytes that are not a valid App snapshot.
	ErrSnapshot = errors.New("kv: malformed snapshot")
)

// flushPayload is the App's only internal command (session.Internal payload).
const flushPayload = "kv.flush"

// FlushCommand returns the payload of the App's internal Flush command: propose it as a
// session.Internal command to retry the notifications that found a watcher's queue full
// (Stats.LaggingSessions > 0) when no client command would otherwise do it soon.
func FlushCommand() []byte { return []byte(flushPayload) }

// App is the key-value application. The zero value is not usable: create it with New.
// Like the session.Machine it is plugged into, it is not safe for concurrent use.
type App struct {
	values map[string]string
	// watchers lists, per watched key, the watching sessions sorted by id (never empty):
	// notifications go out in that order.
	watchers map[string][]string
	// subs is each watching session's subscriptions and missed notifications.
	subs map[string]*subscriber
	// lagging lists, sorted, the sessions whose missed set is not empty.
	lagging []string
	watches int
	// overflows counts notifications that found their target's queue full.
	overflows uint64
}

// subscriber is one session's side of the watches.
type subscriber struct {
	keys map[string]struct{}
	// missed holds, sorted, the watched keys whose latest change is not queued for this
	// session yet because its queue was full.
	missed []string
}

var _ session.Application = (*App)(nil)

// New returns an empty App.
func New() *App {
	return &App{
		values:   make(map[string]string),
		watchers: make(map[string][]string),
		subs:     make(map[string]*subscriber),
	}
}

// Apply runs a Set, Delete or Watch of session. Their result is empty; a payload that
// does not decode is an error wrapping ErrMalformed.
func (a *App) Apply(env *session.Env, sess string, payload []byte) ([]byte, error) {
	cmd, err := kvwire.DecodeCommand(payload)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	// Older missed notifications go before anything this command produces.
	a.flush(env)
	switch c := cmd.(type) {
	case kvwire.Set:
		a.values[c.Key] = c.Value
		a.notifyAll(env, c.Key, c.Value)
	case kvwire.Delete:
		if _, ok := a.values[c.Key]; ok {
			delete(a.values, c.Key)
			a.notifyAll(env, c.Key, "")
		}
	case kvwire.Watch:
		a.watch(env, sess, c.Key)
	default:
		// kvwire.DecodeCommand returns only the three types above.
		panic(fmt.Sprintf("kv: unhandled command %T", cmd))
	}
	return nil, nil
}

// ApplyInternal runs the App's internal Flush command (FlushCommand).
func (a *App) ApplyInternal(env *session.Env, payload []byte) ([]byte, error) {
	if string(payload) != flushPayload {
		return nil, fmt.Errorf("%w: unknown internal command", ErrMalformed)
	}
	a.flush(env)
	return nil, nil
}

// Query answers a Get with kvwire's Get result.
func (a *App) Query(_ string, payload []byte) ([]byte, error) {
	g, err := kvwire.DecodeGet(payload)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	v, ok := a.values[g.Key]
	out, err := kvwire.AppendGetResult(nil, kvwire.GetResult{Value: v, Found: ok})
	if err != nil {
		panic(fmt.Sprintf("kv: stored value does not encode: %v", err)) // values were decoded or restored as valid
	}
	return out, nil
}

// SessionCreated accepts every session.
func (a *App) SessionCreated(_ *session.Env, sess string, _ []session.Capability) error {
	// A session id is never reused by the machine; forgetting it anyway keeps a restored
	// snapshot that was not cross-checked against the machine's sessions from leaking
	// old subscriptions into a new session.
	a.forget(sess)
	return nil
}

// SessionEnded removes every subscription of the session and its missed notifications.
func (a *App) SessionEnded(_ *session.Env, sess string, _ session.EndReason) {
	a.forget(sess)
}

// Stats describes the App's state, for metrics and tests.
type Stats struct {
	// Keys is the number of stored keys.
	Keys int
	// WatchedKeys is the number of keys with at least one watcher; Watches the number of
	// (session, key) subscriptions.
	WatchedKeys int
	Watches     int
	// LaggingSessions is the number of watchers with missed notifications; Missed the
	// number of (session, key) notifications waiting for room in a queue.
	LaggingSessions int
	Missed          int
	// Overflows counts every notification that found its target's queue full since the
	// App's state began (it is replicated and in the snapshot).
	Overflows uint64
}

// Stats returns the App's counters.
func (a *App) Stats() Stats {
	st := Stats{
		Keys: len(a.values), WatchedKeys: len(a.watchers), Watches: a.watches,
		LaggingSessions: len(a.lagging), Overflows: a.overflows,
	}
	for _, s := range a.lagging {
		st.Missed += len(a.subs[s].missed)
	}
	return st
}

// Get returns the value stored under key, for local inspection (clients use the Get query).
func (a *App) Get(key string) (string, bool) {
	v, ok := a.values[key]
	return v, ok
}
