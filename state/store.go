package state

import "errors"

// ErrClosed is returned by operations on a store or iterator that was closed.
var ErrClosed = errors.New("state: store is closed")

// Store is what every state store has, whatever its shape.
type Store interface {
	// Name is the store's name, unique within a topology.
	Name() string
	// Persistent reports whether the store keeps its data on local disk
	// across restarts (RocksDB) or loses it on close (in-memory).
	Persistent() bool
	// Flush makes every write so far durable in the engine.
	Flush() error
	// Close releases the store. Open iterators must be closed first.
	Close() error
}

// KeyValue is one entry of a key-value store.
type KeyValue struct {
	Key   []byte
	Value []byte
}

// KeyValueIterator walks entries in key order (or reverse key order). It
// must be closed; stores track open iterators so that leaks are caught.
//
//	it, err := store.Range(from, to)
//	if err != nil { ... }
//	defer it.Close()
//	for it.Next() { use(it.Key(), it.Value()) }
//	if err := it.Err(); err != nil { ... }
//
// Key and Value are valid only until the next call to Next.
type KeyValueIterator interface {
	Next() bool
	Key() []byte
	Value() []byte
	Err() error
	Close() error
}

// KeyValueStore maps byte keys to byte values, ordered by key.
//
// Range bounds are inclusive, as in Kafka Streams; a nil bound is open; a
// range whose from is above its to is empty. A nil value passed to Put
// deletes the key; an empty non-nil value is a value. Stores copy the
// slices passed to them. Slices they return may be shared with the store:
// callers must not modify them.
type KeyValueStore interface {
	Store
	Get(key []byte) ([]byte, error)
	Put(key, value []byte) error
	// PutIfAbsent stores value only when key has none and returns the value
	// that was there before (nil when it was absent).
	PutIfAbsent(key, value []byte) ([]byte, error)
	PutAll(entries []KeyValue) error
	// Delete removes key and returns the value it had (nil when absent).
	Delete(key []byte) ([]byte, error)
	Range(from, to []byte) (KeyValueIterator, error)
	ReverseRange(from, to []byte) (KeyValueIterator, error)
	PrefixScan(prefix []byte) (KeyValueIterator, error)
	All() (KeyValueIterator, error)
	ReverseAll() (KeyValueIterator, error)
	// ApproximateNumEntries is cheap and may be off; exact for in-memory.
	ApproximateNumEntries() (int64, error)
}

// WindowIterator walks window entries ordered by key, then window start
// (or by window start, then key, for FetchAll; see WindowStore).
type WindowIterator interface {
	Next() bool
	Key() []byte
	WindowStart() int64
	Value() []byte
	Err() error
	Close() error
}

// WindowStore keeps one value per (key, window start). Times are epoch
// milliseconds. The store observes the largest window start put into it and
// drops windows older than that minus its retention period; fetches never
// return dropped windows.
type WindowStore interface {
	Store
	// Put stores value for (key, windowStart); a nil value deletes it.
	Put(key, value []byte, windowStart int64) error
	// Fetch returns the value of one window, or nil.
	Fetch(key []byte, windowStart int64) ([]byte, error)
	// FetchRange returns key's windows with start in [timeFrom, timeTo],
	// ordered by window start.
	FetchRange(key []byte, timeFrom, timeTo int64) (WindowIterator, error)
	// BackwardFetchRange is FetchRange in descending window-start order.
	BackwardFetchRange(key []byte, timeFrom, timeTo int64) (WindowIterator, error)
	// FetchKeyRange returns the windows of keys in [keyFrom, keyTo] (nil is
	// open) with start in [timeFrom, timeTo], ordered by key then start.
	FetchKeyRange(keyFrom, keyTo []byte, timeFrom, timeTo int64) (WindowIterator, error)
	// FetchAll returns every window with start in [timeFrom, timeTo],
	// ordered by window start, then key.
	FetchAll(timeFrom, timeTo int64) (WindowIterator, error)
	// All returns every window still retained, ordered by key, then start.
	All() (WindowIterator, error)
}

// SessionIterator walks sessions ordered by key, then session end.
type SessionIterator interface {
	Next() bool
	Key() []byte
	Start() int64
	End() int64
	Value() []byte
	Err() error
	Close() error
}

// SessionStore keeps one value per (key, session start, session end), for
// session windows. Sessions older than the retention period (measured on
// session end against the largest end seen) are dropped.
type SessionStore interface {
	Store
	// FindSessions returns key's sessions that end at or after
	// earliestSessionEnd and start at or before latestSessionStart: the
	// sessions a record at time t may merge with, for t±gap.
	FindSessions(key []byte, earliestSessionEnd, latestSessionStart int64) (SessionIterator, error)
	// FetchSession returns the value of one session, or nil.
	FetchSession(key []byte, start, end int64) ([]byte, error)
	// Fetch returns every retained session of key.
	Fetch(key []byte) (SessionIterator, error)
	// Put stores value for the session; a nil value removes it.
	Put(key []byte, start, end int64, value []byte) error
	Remove(key []byte, start, end int64) error
}
