// Package pebblestore implements hashicorp/raft's LogStore and StableStore on
// cockroachdb/pebble with synced writes.
package pebblestore
