package state

import (
	"strconv"
	"time"
)

// Kind is the shape of a store.
type Kind int

const (
	KindKeyValue Kind = iota
	KindWindow
	KindSession
	// KindTimeOrderedBuffer is a suppression buffer (TimeOrderedBuffer):
	// always in memory, logged at flush.
	KindTimeOrderedBuffer
)

// Engine selects the storage engine behind a store.
type Engine int

const (
	// RocksDB keeps state on local disk (the default, as in Kafka Streams).
	RocksDB Engine = iota
	// InMemory keeps state in a B-tree; it is rebuilt from the changelog on
	// every start.
	InMemory
	// Pebble keeps state on local disk in pure Go (package state/pebble):
	// for programs built without cgo.
	Pebble
)

// String is the engine's name as configs and store markers spell it.
func (e Engine) String() string {
	switch e {
	case RocksDB:
		return "rocksdb"
	case InMemory:
		return "memory"
	case Pebble:
		return "pebble"
	}
	return "engine-" + strconv.Itoa(int(e))
}

// importHint tells how to link a persistent engine in.
func (e Engine) importHint() string {
	switch e {
	case RocksDB:
		return "cgo and an import of github.com/kafki/kafki/state/rocksdb (package runtime imports it in cgo builds); without cgo, use Pebble or InMemory stores"
	case Pebble:
		return "an import of github.com/kafki/kafki/state/pebble"
	}
	return ""
}

// Spec describes a store a topology needs. The topology declares specs; the
// runtime and the test driver open one physical store per task from them.
type Spec struct {
	Name   string
	Kind   Kind
	Engine Engine

	// LoggingDisabled turns the store's changelog off. A store is logged
	// by default, as Kafka Streams' store builders and DSL stores are:
	// every change goes to the compacted topic
	// <application.id>-<store>-changelog, from which a task that moves to
	// another instance, or restarts with an in-memory store, rebuilds it.
	// An unlogged store (Kafka Streams' withLoggingDisabled) starts empty
	// in those cases. LogConfig adds topic configs to the changelog topic.
	LoggingDisabled bool
	LogConfig       map[string]string

	// Caching puts a record cache in front of the store (off by default,
	// as in Kafka Streams' store builders; the DSL turns it on).
	Caching bool

	// Retention is how long window and session stores keep data.
	Retention time.Duration
	// WindowSize is the size of the windows a window store holds.
	WindowSize time.Duration
	// RetainDuplicates keeps every value put for the same window key
	// instead of overwriting (stream-stream joins need it).
	RetainDuplicates bool
	// Timestamped stores keep the record timestamp next to each value.
	Timestamped bool
	// TimeOrdered session stores also index their sessions by end time
	// (TimeOrderedSessionStore), for aggregations that emit only closed
	// sessions. BuildStore never caches them, as Kafka Streams.
	TimeOrdered bool
}
