package state

import (
	"cmp"
	"errors"
	"sync/atomic"
	"time"
)

// CachingSessionStore is the record cache in front of a session store, for
// session-windowed aggregations: repeated updates of a session are absorbed
// and only its latest value is written below and passed to the flush
// listener, on Flush or eviction. Reads merge the cache with the store.
//
// The cache keys sessions by SessionKey(key, start, end): the listener set
// with SetFlushListener receives that encoding as its key (decode it with
// DecodeSessionKey, or use SetSessionFlushListener).
type CachingSessionStore struct {
	inner     SessionStore
	kv        *CachingKeyValueStore
	iters     iterCount
	retention int64
	observed  atomic.Int64
	dropped   atomic.Int64
}

var (
	_ SessionStore    = (*CachingSessionStore)(nil)
	_ CachedStore     = (*CachingSessionStore)(nil)
	_ IteratorCounter = (*CachingSessionStore)(nil)
)

// SessionFlushListener is a FlushListener with the session key decoded.
type SessionFlushListener func(key []byte, start, end int64, newValue, oldValue []byte, timestamp int64) error

// NewCachingSessionStore puts a cache of at most maxBytes in front of
// inner. retention is the store's (0 keeps forever), applied to cached
// sessions too.
func NewCachingSessionStore(inner SessionStore, retention time.Duration, maxBytes int64) *CachingSessionStore {
	c := &CachingSessionStore{inner: inner, kv: NewCachingKeyValueStore(sessionKV{inner}, maxBytes), retention: retentionMs(retention)}
	c.observed.Store(minTime)
	return c
}

// Inner is the store below the cache.
func (c *CachingSessionStore) Inner() SessionStore { return c.inner }

func (c *CachingSessionStore) Name() string       { return c.inner.Name() }
func (c *CachingSessionStore) Persistent() bool   { return c.inner.Persistent() }
func (c *CachingSessionStore) OpenIterators() int { return c.iters.OpenIterators() }

func (c *CachingSessionStore) SetFlushListener(fn FlushListener) { c.kv.SetFlushListener(fn) }
func (c *CachingSessionStore) SetTimestampSource(fn func() int64) {
	c.kv.SetTimestampSource(fn)
}

// SetSessionFlushListener sets the flush listener, with keys decoded.
func (c *CachingSessionStore) SetSessionFlushListener(fn SessionFlushListener) {
	if fn == nil {
		c.kv.SetFlushListener(nil)
		return
	}
	c.kv.SetFlushListener(func(enc, nv, ov []byte, ts int64) error {
		key, start, end, err := DecodeSessionKey(enc)
		if err != nil {
			return err
		}
		return fn(key, start, end, nv, ov, ts)
	})
}

// CacheStats: see CachingKeyValueStore.CacheStats.
func (c *CachingSessionStore) CacheStats() (bytes int64, entries int, hits, misses int64) {
	return c.kv.CacheStats()
}

// FlushCache writes the dirty sessions below without flushing the store.
func (c *CachingSessionStore) FlushCache() error { return c.kv.FlushCache() }

// Flush flushes the cache, then the store below.
func (c *CachingSessionStore) Flush() error { return c.kv.Flush() }

// Close flushes the cache and closes the store below.
func (c *CachingSessionStore) Close() error {
	err := c.kv.Close()
	if lerr := leakErr(c.Name(), c.iters.OpenIterators()); lerr != nil {
		return errors.Join(lerr, err)
	}
	return err
}

func (c *CachingSessionStore) minLive() int64 {
	o := c.observed.Load()
	if o == minTime || o-c.retention+1 > o {
		return minTime
	}
	return o - c.retention + 1
}

func (c *CachingSessionStore) observe(end int64) bool {
	for {
		o := c.observed.Load()
		if end <= o || c.observed.CompareAndSwap(o, end) {
			break
		}
	}
	if end < c.minLive() {
		c.dropped.Add(1)
		return false
	}
	return true
}

// DroppedExpiredRecords counts the puts dropped as expired, here and below.
func (c *CachingSessionStore) DroppedExpiredRecords() int64 {
	n := c.dropped.Load()
	if e, ok := c.inner.(ExpiredRecordCounter); ok {
		n += e.DroppedExpiredRecords()
	}
	return n
}

func (c *CachingSessionStore) Put(key []byte, start, end int64, value []byte) error {
	if !c.observe(end) {
		return nil
	}
	return c.kv.Put(SessionKey(key, start, end), value)
}

// PutWithTimestamp caches the session with the timestamp of the record that
// wrote it.
func (c *CachingSessionStore) PutWithTimestamp(key []byte, start, end int64, value []byte, ts int64) error {
	if !c.observe(end) {
		return nil
	}
	return c.kv.PutWithTimestamp(SessionKey(key, start, end), value, ts)
}

func (c *CachingSessionStore) Remove(key []byte, start, end int64) error {
	return c.kv.Put(SessionKey(key, start, end), nil)
}

func (c *CachingSessionStore) FetchSession(key []byte, start, end int64) ([]byte, error) {
	if end < c.minLive() {
		return nil, nil
	}
	return c.kv.Get(SessionKey(key, start, end))
}

func (c *CachingSessionStore) FindSessions(key []byte, earliestSessionEnd, latestSessionStart int64) (SessionIterator, error) {
	earliestSessionEnd = max(earliestSessionEnd, c.minLive())
	under, err := c.inner.FindSessions(key, earliestSessionEnd, latestSessionStart)
	if err != nil {
		return nil, err
	}
	cur := &cacheCursor{c: c.kv, lo: appendTime(keyPrefix(key), earliestSessionEnd), hi: keyPrefixEnd(key), chunk: 8}
	c.iters.opened()
	it := &cacheSessionIter{owner: &c.iters, store: c.kv, cache: cur, under: under,
		earliestEnd: earliestSessionEnd, latestStart: latestSessionStart}
	it.underOK = under.Next()
	return it, nil
}

func (c *CachingSessionStore) Fetch(key []byte) (SessionIterator, error) {
	return c.FindSessions(key, minTime, maxTime)
}

// cacheSessionIter merges the cache's sessions of one key with the store's,
// by (end, start): cached values win, cached deletes hide.
type cacheSessionIter struct {
	owner                    *iterCount
	store                    *CachingKeyValueStore
	cache                    kvSource
	under                    SessionIterator
	underOK                  bool
	advance                  bool
	earliestEnd, latestStart int64

	key        []byte
	start, end int64
	value      []byte
	err        error
	closed     bool
}

func (it *cacheSessionIter) match(start, end int64) bool {
	return end >= it.earliestEnd && start <= it.latestStart
}

func (it *cacheSessionIter) Next() bool {
	if it.closed || it.err != nil {
		return false
	}
	if it.store.closedFlag.Load() {
		it.err = ErrClosed
		return false
	}
	if it.advance {
		it.advance = false
		it.underOK = it.under.Next()
	}
	for {
		if !it.underOK {
			if it.err = it.under.Err(); it.err != nil {
				return false
			}
		} else if !it.match(it.under.Start(), it.under.End()) {
			it.underOK = it.under.Next()
			continue
		}
		head, cacheOK := it.cache.peek()
		var ck []byte
		var cs, ce int64
		if cacheOK {
			var err error
			if ck, cs, ce, err = DecodeSessionKey(head.key); err != nil {
				it.err = err
				return false
			}
			if !it.match(cs, ce) {
				it.cache.pop()
				continue
			}
		}
		if !cacheOK && !it.underOK {
			it.key, it.value = nil, nil
			return false
		}
		useCache := false
		switch {
		case !cacheOK:
		case !it.underOK:
			useCache = true
		default:
			c := cmp.Compare(ce, it.under.End())
			if c == 0 {
				c = cmp.Compare(cs, it.under.Start())
			}
			if c == 0 {
				it.underOK = it.under.Next()
			}
			useCache = c <= 0
		}
		if useCache {
			it.cache.pop()
			if head.value == nil {
				continue
			}
			it.key, it.start, it.end, it.value = ck, cs, ce, head.value
			return true
		}
		it.key, it.start, it.end, it.value = it.under.Key(), it.under.Start(), it.under.End(), it.under.Value()
		it.advance = true
		return true
	}
}

func (it *cacheSessionIter) Key() []byte   { return it.key }
func (it *cacheSessionIter) Start() int64  { return it.start }
func (it *cacheSessionIter) End() int64    { return it.end }
func (it *cacheSessionIter) Value() []byte { return it.value }
func (it *cacheSessionIter) Err() error    { return it.err }

func (it *cacheSessionIter) Close() error {
	if it.closed {
		return nil
	}
	it.closed = true
	it.cache = emptySource{}
	it.under.Close()
	it.owner.closed()
	return nil
}

// sessionKV shows a session store as a key-value store of SessionKey
// encodings, for the cache's point reads and writes.
type sessionKV struct{ s SessionStore }

func (a sessionKV) Name() string     { return a.s.Name() }
func (a sessionKV) Persistent() bool { return a.s.Persistent() }
func (a sessionKV) Flush() error     { return a.s.Flush() }
func (a sessionKV) Close() error     { return a.s.Close() }

func (a sessionKV) Get(enc []byte) ([]byte, error) {
	key, start, end, err := DecodeSessionKey(enc)
	if err != nil {
		return nil, err
	}
	return a.s.FetchSession(key, start, end)
}

func (a sessionKV) Put(enc, value []byte) error {
	key, start, end, err := DecodeSessionKey(enc)
	if err != nil {
		return err
	}
	if value == nil {
		return a.s.Remove(key, start, end)
	}
	return a.s.Put(key, start, end, value)
}

func (a sessionKV) PutIfAbsent(enc, value []byte) ([]byte, error) {
	old, err := a.Get(enc)
	if err != nil || old != nil {
		return old, err
	}
	return nil, a.Put(enc, value)
}

func (a sessionKV) PutAll(entries []KeyValue) error {
	for _, e := range entries {
		if err := a.Put(e.Key, e.Value); err != nil {
			return err
		}
	}
	return nil
}

func (a sessionKV) Delete(enc []byte) ([]byte, error) {
	old, err := a.Get(enc)
	if err != nil || old == nil {
		return old, err
	}
	return old, a.Put(enc, nil)
}

func (a sessionKV) Range(from, to []byte) (KeyValueIterator, error) { return nil, errWindowKVRange }
func (a sessionKV) ReverseRange(from, to []byte) (KeyValueIterator, error) {
	return nil, errWindowKVRange
}
func (a sessionKV) PrefixScan(prefix []byte) (KeyValueIterator, error) { return nil, errWindowKVRange }
func (a sessionKV) All() (KeyValueIterator, error)                     { return nil, errWindowKVRange }
func (a sessionKV) ReverseAll() (KeyValueIterator, error)              { return nil, errWindowKVRange }
func (a sessionKV) ApproximateNumEntries() (int64, error)              { return 0, nil }
