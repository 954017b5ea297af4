package kv

import (
	"errors"
	"fmt"
	"slices"

	"github.com/zraft/zraft/domain/session"
	"github.com/zraft/zraft/protocol/kvwire"
)

// notification encodes the Notification of key's change to value ("" for a deletion).
func notification(key, value string) []byte {
	b, err := kvwire.AppendNotification(nil, kvwire.Notification{Key: key, Value: value})
	if err != nil {
		panic(fmt.Sprintf("kv: notification does not encode: %v", err)) // keys and values were decoded or restored as valid
	}
	return b
}

// current is the Notification carrying key's value now.
func (a *App) current(key string) []byte { return notification(key, a.values[key]) }

// notifyAll tells every watcher of key that it now holds value. Every watcher gets the
// same payload slice: the machine retains it and never modifies it.
func (a *App) notifyAll(env *session.Env, key, value string) {
	ws := a.watchers[key]
	if len(ws) == 0 {
		return
	}
	payload := notification(key, value)
	var gone []string
	for _, s := range ws {
		if !a.send(env, s, key, payload) {
			gone = append(gone, s)
		}
	}
	for _, s := range gone {
		a.forget(s)
	}
}

// watch subscribes sess to key and queues key's current value to it at once. Watching a
// key again changes nothing and sends nothing.
func (a *App) watch(env *session.Env, sess, key string) {
	sub := a.subs[sess]
	if sub == nil {
		sub = &subscriber{keys: make(map[string]struct{})}
		a.subs[sess] = sub
	}
	if _, ok := sub.keys[key]; ok {
		return
	}
	sub.keys[key] = struct{}{}
	ws := a.watchers[key]
	i, _ := slices.BinarySearch(ws, sess)
	a.watchers[key] = slices.Insert(ws, i, sess)
	a.watches++
	if _, ok := a.values[key]; ok {
		if !a.send(env, sess, key, a.current(key)) {
			a.forget(sess)
		}
	}
}

// send queues payload, the latest change of key, to watcher sess. A full queue is counted
// and remembered in sess's missed set for flush to send later. (Every command flushes
// first, so a session that still misses keys has a full queue here: a successful send
// never races a missed older change of the same key.) It returns false only when the
// machine does not know sess, which the caller answers by forgetting it.
func (a *App) send(env *session.Env, sess, key string, payload []byte) bool {
	_, err := env.Send(sess, payload)
	switch {
	case err == nil:
		return true
	case errors.Is(err, session.ErrQueueFull):
		a.overflows++
		a.miss(sess, key)
		return true
	case errors.Is(err, session.ErrUnknownSession):
		// Only reachable after restoring a snapshot whose watchers the machine does not
		// know: the session ended without telling us.
		return false
	}
	panic(fmt.Sprintf("kv: unexpected error from session.Env.Send: %v", err))
}

func (a *App) miss(sess, key string) {
	sub := a.subs[sess]
	i, found := slices.BinarySearch(sub.missed, key)
	if found {
		return
	}
	if len(sub.missed) == 0 {
		j, _ := slices.BinarySearch(a.lagging, sess)
		a.lagging = slices.Insert(a.lagging, j, sess)
	}
	sub.missed = slices.Insert(sub.missed, i, key)
}

func (a *App) unlag(sess string) {
	if j, ok := slices.BinarySearch(a.lagging, sess); ok {
		a.lagging = slices.Delete(a.lagging, j, j+1)
		if len(a.lagging) == 0 {
			a.lagging = nil
		}
	}
}

// flush sends every lagging watcher its missed keys' current values, sessions and keys in
// sorted order, stopping at a session's first full queue (the rest would fail too).
func (a *App) flush(env *session.Env) {
	if len(a.lagging) == 0 {
		return
	}
	var gone []string
	for _, sess := range slices.Clone(a.lagging) {
		sub := a.subs[sess]
		for len(sub.missed) > 0 {
			key := sub.missed[0]
			_, err := env.Send(sess, a.current(key))
			if errors.Is(err, session.ErrQueueFull) {
				break
			}
			if errors.Is(err, session.ErrUnknownSession) {
				gone = append(gone, sess)
				break
			}
			if err != nil {
				panic(fmt.Sprintf("kv: unexpected error from session.Env.Send: %v", err))
			}
			sub.missed = sub.missed[1:]
		}
		if len(sub.missed) == 0 {
			sub.missed = nil
			a.unlag(sess)
		}
	}
	for _, s := range gone {
		a.forget(s)
	}
}

// forget removes every trace of sess: its subscriptions and missed notifications.
func (a *App) forget(sess string) {
	sub := a.subs[sess]
	if sub == nil {
		return
	}
	// Map order is harmless here: the resulting state is the same in any order.
	for key := range sub.keys {
		ws := a.watchers[key]
		if i, ok := slices.BinarySearch(ws, sess); ok {
			ws = slices.Delete(ws, i, i+1)
		}
		if len(ws) == 0 {
			delete(a.watchers, key)
		} else {
			a.watchers[key] = ws
		}
		a.watches--
	}
	if len(sub.missed) > 0 {
		a.unlag(sess)
	}
	delete(a.subs, sess)
}
