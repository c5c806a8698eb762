// Package state holds the state stores that stateful operators use:
// key-value, window and session stores, their timestamped variants, and the
// engines behind them — RocksDB (persistent) and an in-memory B-tree.
//
// Stores are byte-level: keys and values are opaque bytes ordered
// lexicographically. Typed access goes through serdes layered on top
// (TypedKeyValueStore, TypedWindowStore, TypedSessionStore; the timestamped
// variants keep EncodeTimestamped values). A record cache can sit in front
// of a store to absorb repeated updates (CachingKeyValueStore,
// CachingWindowStore, CachingSessionStore; all CachedStore).
//
// Engines:
//
//   - NewInMemoryKeyValueStore, OpenRocksDBKeyValueStore: one B-tree, or one
//     RocksDB database in the store's directory.
//   - NewInMemoryWindowStore, OpenRocksDBWindowStore, and the session
//     equivalents: time segments (a B-tree or a RocksDB database each, in
//     <dir>/<name>.<segment start>), so that retention drops whole
//     segments. Keys are encoded with WindowKey / SessionKey, which keep
//     (key, time) order for keys of any length.
//   - Open picks the engine and kind from a Spec.
//
// RocksDB stores share one block cache per RocksDBConfig (50 MiB by
// default, index and filter blocks included), have bounded write buffers
// (2 x 16 MiB per database) and bloom filters, and run without a
// write-ahead log: durability comes from the changelog, and Flush writes
// the memtables to disk so that a checkpoint written after it is true.
//
// Every iterator must be closed: stores count open iterators
// (IteratorCounter) and Close reports leaks with an *OpenIteratorsError.
//
// This package knows nothing about Kafka, tasks or threads: changelogging,
// restoration and checkpoints live in package changelog. It must not import
// any Kafki package other than serde.
package state
