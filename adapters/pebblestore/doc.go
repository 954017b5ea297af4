// Package pebblestore implements hashicorp/raft's LogStore, StableStore and
// MonotonicLogStore on cockroachdb/pebble with synced writes.
//
// Open a Store on a directory and give it to raft.NewRaft as both the log and
// the stable store. Every write is synced before it returns; StoreLogs costs
// one WAL sync per batch; every entry carries a CRC-32C so a torn or damaged
// record is reported as ErrCorrupt, never returned as data. Key layout, entry
// format, the durability argument, Pebble options and measurements are in
// docs/storage.md at the repository root.
package pebblestore
