package state

import (
	"fmt"
	"sync/atomic"
)

// contextPutter is implemented by the logging stores: a batch written with
// the record context of each entry.
type contextPutter interface {
	putAllWithContexts(entries []KeyValue, ctxs []RecordContext) error
}

// ThreadCache is the record-cache budget of one stream thread, shared by
// the caching stores of all its tasks (Kafka Streams' ThreadCache). The
// runtime gives each thread CacheMaxBytes divided by the number of threads.
type ThreadCache struct {
	max  atomic.Int64
	size atomic.Int64
}

// NewThreadCache returns a budget of maxBytes.
func NewThreadCache(maxBytes int64) *ThreadCache {
	tc := &ThreadCache{}
	tc.max.Store(maxBytes)
	return tc
}

// Resize changes the budget (when threads are added or removed); stores
// evict down to it on their next write.
func (tc *ThreadCache) Resize(maxBytes int64) { tc.max.Store(maxBytes) }

// MaxBytes is the budget.
func (tc *ThreadCache) MaxBytes() int64 { return tc.max.Load() }

// Bytes is what the thread's caches hold now.
func (tc *ThreadCache) Bytes() int64 { return tc.size.Load() }

// StackConfig is what BuildStore puts around an engine store besides the
// spec: the parts that differ between the runtime and the test driver.
type StackConfig struct {
	// Changelog is where the logging layer writes when the spec asks for
	// logging; a nil Sink leaves it out (standby tasks, which apply a
	// changelog and write none).
	Changelog Changelog
	// RecordContext is the task's record context: the logging layer takes
	// the changelog records' timestamps from it and the cache the
	// timestamp and headers of each write. nil: wall-clock timestamps.
	RecordContext *RecordContext
	// ThreadCache, when set, is the budget the cache shares with the other
	// stores of the stream thread; otherwise CacheMaxBytes is this store's
	// own. With neither (0 and nil) the store is not cached even when the
	// spec asks for caching, as Kafka Streams with a zero cache size.
	ThreadCache   *ThreadCache
	CacheMaxBytes int64
}

// BuildStore assembles the store a task's processors use from the engine
// store that holds the data: caching, then change-logging, then the
// engine, as Kafka Streams' store builders do. It is the one place that
// does: the runtime and the test driver both call it, so a test-driver
// test runs the stack production runs, and only the engine and the
// changelog sink differ.
//
// Caching goes above logging so that a key updated many times between
// commits is logged once, when the cache flushes or evicts it. A caching
// store is a CachedStore: the DSL forwards table updates from its flushes.
func BuildStore(spec Spec, engine Store, cfg StackConfig) (Store, error) {
	if engine == nil {
		return nil, fmt.Errorf("state: build store %q: no engine store", spec.Name)
	}
	store := engine
	if !spec.LoggingDisabled && cfg.Changelog.Sink != nil {
		cl := cfg.Changelog
		if cl.Context == nil {
			cl.Context = cfg.RecordContext
		}
		switch s := engine.(type) {
		case *TimeOrderedBuffer:
			// The suppression buffer logs itself, at flush.
			store = s.logTo(cl)
		case KeyValueStore:
			store = NewLoggingKeyValueStore(s, cl)
		case WindowStore:
			store = NewLoggingWindowStore(s, spec.RetainDuplicates, cl)
		case SessionStore:
			store = NewLoggingSessionStore(s, cl)
		default:
			return nil, fmt.Errorf("state: build store %q: cannot log a %T", spec.Name, engine)
		}
	}
	// A time-ordered session store is read by end time across keys, which
	// the cache cannot merge; Kafka Streams does not cache it either, nor
	// the suppression buffer.
	if _, ok := engine.(*TimeOrderedBuffer); ok || !spec.Caching || spec.TimeOrdered || (cfg.ThreadCache == nil && cfg.CacheMaxBytes <= 0) {
		return store, nil
	}
	// A window store that retains duplicates (joins) has no single value
	// per window to cache; Kafka Streams does not cache it either.
	var kv *CachingKeyValueStore
	switch s := store.(type) {
	case KeyValueStore:
		c := NewCachingKeyValueStore(s, cfg.CacheMaxBytes)
		kv, store = c, c
	case WindowStore:
		if spec.RetainDuplicates {
			return store, nil
		}
		c := NewCachingWindowStore(s, spec.Retention, cfg.CacheMaxBytes)
		kv, store = c.kv, c
	case SessionStore:
		c := NewCachingSessionStore(s, spec.Retention, cfg.CacheMaxBytes)
		kv, store = c.kv, c
	default:
		return nil, fmt.Errorf("state: build store %q: cannot cache a %T", spec.Name, engine)
	}
	if cfg.RecordContext != nil {
		kv.SetRecordContext(cfg.RecordContext)
	}
	if cfg.ThreadCache != nil {
		kv.SetThreadCache(cfg.ThreadCache)
	}
	return store, nil
}
