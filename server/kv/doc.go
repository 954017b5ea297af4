// Package kv is zraft's example key-value application: a session.Application whose
// payloads are byte-compatible with zio-raft's kvstore example (protocol/kvwire).
//
// Commands (ClientRequest payloads): Set, Delete and Watch. Query: Get. Server requests:
// Notification, sent to every session watching a key when it is set or deleted (a
// deletion is a Notification with an empty value), and to a new watcher at once with the
// key's current value. Subscriptions end with their session. Keys are never purged.
//
// The App runs inside the replicated state machine on every member: it reads no clock,
// uses no randomness and never lets map order reach an output or a snapshot.
//
// When a watcher's server-request queue is full, its notification is not queued: the
// App counts the overflow and remembers the key for that watcher, and sends it the key's
// then-current value as soon as the queue has room again (checked on every command the
// App applies, and on the internal Flush command). Per key, a watcher therefore sees the
// values in history order, possibly skipping intermediate ones, and always ends with the
// latest. docs/kv.md has the details and the snapshot format.
package kv
