package state

import (
	"errors"
	"fmt"
	"sync"
	"time"
)

// Persistent engines live in their own packages (state/rocksdb needs cgo,
// so package state must not import it: a program with in-memory stores
// builds with CGO_ENABLED=0). An engine package registers itself with
// RegisterEngine when it is imported; Open then finds it. The runtime
// imports state/rocksdb whenever cgo is on, which keeps RocksDB the
// default engine, as in Kafka Streams.

// ErrEngineUnavailable matches (errors.Is) the error of Open for a store
// whose engine is not linked into the program.
var ErrEngineUnavailable = errors.New("state: engine not linked in")

// EngineOpener opens the engine store a Spec describes in dir, the store's
// own directory. Open has checked the spec and filled in its defaults
// (Retention) before it calls the opener.
type EngineOpener func(spec Spec, dir string) (Store, error)

var engines struct {
	mu   sync.RWMutex
	open map[Engine]EngineOpener
}

// RegisterEngine makes Open use open for stores of engine e. Engine
// packages call it from init; registering an engine twice replaces the
// opener (a program may register its own tuned opener after the import).
func RegisterEngine(e Engine, open EngineOpener) {
	if e == InMemory {
		panic("state: the in-memory engine is built in")
	}
	engines.mu.Lock()
	defer engines.mu.Unlock()
	if engines.open == nil {
		engines.open = map[Engine]EngineOpener{}
	}
	engines.open[e] = open
}

// EngineAvailable reports whether stores of engine e can be opened in this
// program (InMemory always; a persistent engine once its package is
// imported).
func EngineAvailable(e Engine) bool {
	if e == InMemory {
		return true
	}
	engines.mu.RLock()
	defer engines.mu.RUnlock()
	_, ok := engines.open[e]
	return ok
}

func engineOpener(e Engine) (EngineOpener, error) {
	engines.mu.RLock()
	defer engines.mu.RUnlock()
	if open, ok := engines.open[e]; ok {
		return open, nil
	}
	if hint := e.importHint(); hint != "" {
		return nil, fmt.Errorf("%w: %s stores need %s", ErrEngineUnavailable, e, hint)
	}
	return nil, fmt.Errorf("%w: unknown engine %s", ErrEngineUnavailable, e)
}

// EngineStore is one database of a persistent engine: the key-value store
// of a key-value spec, or one time segment of a window or session store.
// Engine packages implement it; OpenSegmentedWindowStore and
// OpenSegmentedSessionStore build the windowed stores on it.
type EngineStore interface {
	KeyValueStore
	IteratorCounter
	// Scan iterates keys from lo (inclusive; nil is open) to hi (inclusive
	// when hiIncl, else exclusive; nil is open), in reverse when asked.
	Scan(lo, hi []byte, hiIncl, reverse bool) (KeyValueIterator, error)
	// Destroy closes the store without flushing it and deletes its files:
	// a segment that expired.
	Destroy() error
}

// OpenSegmentedWindowStore opens a window store in dir (the store's own
// directory) whose time segments are engine stores opened by open, each in
// <dir>/<name>.<segment start>, as Kafka Streams lays them out. Arguments
// as NewInMemoryWindowStore.
func OpenSegmentedWindowStore(name, dir string, retention, segmentInterval time.Duration, retainDuplicates bool, open func(name, dir string) (EngineStore, error)) (WindowStore, error) {
	r, i := retentionMs(retention), intervalMs(retention, segmentInterval)
	g, err := openPersistentSegments(name, dir, r, i, open)
	if err != nil {
		return nil, err
	}
	return &windowStore{segStore: segStore{name: name, persistent: true, segs: g}, retainDup: retainDuplicates}, nil
}

// OpenSegmentedSessionStore opens a session store in dir whose time
// segments (by session end) are engine stores opened by open, as
// OpenSegmentedWindowStore.
func OpenSegmentedSessionStore(name, dir string, retention, segmentInterval time.Duration, open func(name, dir string) (EngineStore, error)) (SessionStore, error) {
	r, i := retentionMs(retention), intervalMs(retention, segmentInterval)
	g, err := openPersistentSegments(name, dir, r, i, open)
	if err != nil {
		return nil, err
	}
	return &sessionStore{segStore: segStore{name: name, persistent: true, segs: g}}, nil
}

// OpenSegmentedTimeOrderedSessionStore is OpenSegmentedSessionStore with
// an index by session end in each segment (see TimeOrderedSessionStore).
func OpenSegmentedTimeOrderedSessionStore(name, dir string, retention, segmentInterval time.Duration, open func(name, dir string) (EngineStore, error)) (TimeOrderedSessionStore, error) {
	r, i := retentionMs(retention), intervalMs(retention, segmentInterval)
	g, err := openPersistentSegments(name, dir, r, i, open)
	if err != nil {
		return nil, err
	}
	return &timeOrderedSessionStore{sessionStore{segStore: segStore{name: name, persistent: true, segs: g}, byEnd: true}}, nil
}

// SegmentCount is the number of time segments a window or session store of
// this package holds open (0 for other stores): retention is checked by it.
func SegmentCount(s Store) int {
	var g *segments
	switch st := s.(type) {
	case *windowStore:
		g = st.segs
	case *sessionStore:
		g = st.segs
	case *timeOrderedSessionStore:
		g = st.segs
	default:
		return 0
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.segs)
}
