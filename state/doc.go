// Package state holds the state stores that stateful operators use:
// key-value, window and session stores, their timestamped variants, the
// in-memory engine (a B-tree), and the plug-in point of the persistent
// engines, which live in their own packages (state/rocksdb, with cgo).
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
//   - NewInMemoryKeyValueStore: one B-tree. A persistent engine's key-value
//     store is one database in the store's directory (EngineStore).
//   - NewInMemoryWindowStore, NewInMemorySessionStore, and for persistent
//     engines OpenSegmentedWindowStore, OpenSegmentedSessionStore: time
//     segments (a B-tree or an engine database each, in
//     <dir>/<name>.<segment start>), so that retention drops whole
//     segments. Keys are encoded with WindowKey / SessionKey, which keep
//     (key, time) order for keys of any length.
//   - Open picks the engine and kind from a Spec. Persistent engines
//     register themselves (RegisterEngine) when their package is imported;
//     this package never imports them, so that it builds without cgo.
//
// Every iterator must be closed: stores count open iterators
// (IteratorCounter) and Close reports leaks with an *OpenIteratorsError.
//
// This package knows nothing about Kafka, tasks or threads: changelogging,
// restoration and checkpoints live in package changelog. It must not import
// any Kafki package other than serde and internal/kafkatime.
package state
