package state

import (
	"cmp"
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
	timedCache
	inner SessionStore
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
	c := &CachingSessionStore{inner: inner}
	c.init(inner, sessionKV(inner), retention, maxBytes)
	// A session store drops expired sessions: the old value of a write
	// below is read from it unless it is known to be absent.
	c.kv.belowLive = func([]byte) bool { return false }
	return c
}

// Inner is the store below the cache.
func (c *CachingSessionStore) Inner() SessionStore { return c.inner }

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

func (c *CachingSessionStore) Put(key []byte, start, end int64, value []byte) error {
	if !c.observe(end) {
		return nil
	}
	return c.kv.putEncoded(SessionKey(key, start, end), value, 0, false)
}

// PutWithTimestamp caches the session with the timestamp of the record that
// wrote it.
func (c *CachingSessionStore) PutWithTimestamp(key []byte, start, end int64, value []byte, ts int64) error {
	if !c.observe(end) {
		return nil
	}
	return c.kv.putEncoded(SessionKey(key, start, end), value, ts, true)
}

func (c *CachingSessionStore) Remove(key []byte, start, end int64) error {
	return c.kv.putEncoded(SessionKey(key, start, end), nil, 0, false)
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
	cur := &cacheCursor{c: c.kv, chunkReader: chunkReader{chunkBounds: chunkBounds{lo: appendTime(keyPrefix(key), earliestSessionEnd), hi: keyPrefixEnd(key)}, chunk: 8}}
	c.iters.Opened()
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
	it.owner.Closed()
	return nil
}
