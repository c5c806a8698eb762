// Package state holds the state stores that stateful operators use:
// key-value, window and session stores, their timestamped variants, and the
// engines behind them — RocksDB (persistent) and an in-memory B-tree.
//
// Stores are byte-level: keys and values are opaque bytes ordered
// lexicographically. Typed access goes through serdes layered on top.
// A record cache can sit in front of a store to absorb repeated updates.
//
// This package knows nothing about Kafka, tasks or threads: changelogging,
// restoration and checkpoints live in package changelog. It must not import
// any Kafki package other than serde.
package state
