// Package pebble is the Pebble engine of Kafki's state stores
// (github.com/cockroachdb/pebble/v2, pure Go): a persistent engine for
// programs built with CGO_ENABLED=0 (static binaries, distroless
// containers, cross-compilation, no librocksdb on the host). Key-value
// stores are one Pebble database each, window and session stores one
// database per time segment, behind the same interfaces and contract
// suites (package statetest) as the RocksDB engine.
//
// Importing the package registers the engine with package state, so that
// stores whose Spec says state.Pebble open with it (stream.WithEngine picks
// the engine of a store). Stores opened through the registration use
// DefaultConfig; change it before the application starts. As with RocksDB
// the write-ahead log is off (durability comes from the changelog) and
// Flush writes the memtables to disk, so a checkpoint written after it is
// true; all stores of a Config share one block cache.
//
// The package may import state and its internal helpers, and Pebble;
// nothing else of Kafki.
package pebble
