package state

import (
	"errors"
	"slices"
	"sync/atomic"
	"time"
)

// timedCache is what CachingWindowStore and CachingSessionStore share: a
// CachingKeyValueStore over a key-value view of the timed store below, and
// the retention the cache applies to what it holds, by stream time (the
// largest time observed).
type timedCache struct {
	below     Store
	kv        *CachingKeyValueStore
	iters     iterCount
	retention int64 // ms; maxTime keeps forever
	observed  atomic.Int64
	dropped   atomic.Int64
}

func (c *timedCache) init(below Store, view KeyValueStore, retention time.Duration, maxBytes int64) {
	c.below, c.kv, c.retention = below, NewCachingKeyValueStore(view, maxBytes), retentionMs(retention)
	c.observed.Store(minTime)
}

// minLive is the smallest time still retained.
func (c *timedCache) minLive() int64 {
	o := c.observed.Load()
	if o == minTime || o-c.retention+1 > o {
		return minTime
	}
	return o - c.retention + 1
}

// observe advances the stream time and reports whether t is live.
func (c *timedCache) observe(t int64) bool {
	for {
		o := c.observed.Load()
		if t <= o || c.observed.CompareAndSwap(o, t) {
			break
		}
	}
	if t < c.minLive() {
		c.dropped.Add(1)
		return false
	}
	return true
}

// DroppedExpiredRecords counts the puts dropped as expired, here and below.
func (c *timedCache) DroppedExpiredRecords() int64 {
	n := c.dropped.Load()
	if e, ok := c.below.(ExpiredRecordCounter); ok {
		n += e.DroppedExpiredRecords()
	}
	return n
}

func (c *timedCache) Name() string       { return c.below.Name() }
func (c *timedCache) Persistent() bool   { return c.below.Persistent() }
func (c *timedCache) OpenIterators() int { return c.iters.OpenIterators() }

func (c *timedCache) SetFlushListener(fn FlushListener)  { c.kv.SetFlushListener(fn) }
func (c *timedCache) SetTimestampSource(fn func() int64) { c.kv.SetTimestampSource(fn) }

// CacheStats: see CachingKeyValueStore.CacheStats.
func (c *timedCache) CacheStats() (bytes int64, entries int, hits, misses int64) {
	return c.kv.CacheStats()
}

// FlushCache writes the dirty entries below without flushing the store.
func (c *timedCache) FlushCache() error { return c.kv.FlushCache() }

// Flush flushes the cache, then the store below.
func (c *timedCache) Flush() error { return c.kv.Flush() }

// Close flushes the cache and closes the store below.
func (c *timedCache) Close() error {
	err := c.kv.Close()
	if lerr := leakErr(c.Name(), c.iters.OpenIterators()); lerr != nil {
		return errors.Join(lerr, err)
	}
	return err
}

// encodedKV shows a window or session store as a key-value store of its
// key encodings (WindowKey, SessionKey), for the cache's point reads and
// writes: get and put decode the key and call the store. Range reads are
// not supported: the caching stores merge with the store itself.
type encodedKV struct {
	Store
	get func(enc []byte) ([]byte, error)
	put func(enc, value []byte) error // a nil value removes
	// putBatch, when the store has a batch write, writes entries as put
	// would one by one, logging each with its record context from ctxs
	// (nil: the current one).
	putBatch func(entries []KeyValue, ctxs []RecordContext) error
}

// windowContextPutter and sessionContextPutter are the logging wrappers'
// batch writes with a record context per entry.
type windowContextPutter interface {
	putWindowsWithContexts(entries []WindowKeyValue, ctxs []RecordContext) error
}

type sessionContextPutter interface {
	putSessionsWithContexts(entries []SessionKeyValue, ctxs []RecordContext) error
}

var errWindowKVRange = errors.New("state: range reads on the key-value view of a cached window or session store")

func windowKV(w WindowStore) encodedKV {
	a := encodedKV{Store: w,
		get: func(enc []byte) ([]byte, error) {
			key, start, _, err := DecodeWindowKey(enc)
			if err != nil {
				return nil, err
			}
			return w.Fetch(key, start)
		},
		put: func(enc, value []byte) error {
			key, start, _, err := DecodeWindowKey(enc)
			if err != nil {
				return err
			}
			return w.Put(key, value, start)
		}}
	cp, logged := w.(windowContextPutter)
	bw, ok := w.(WindowBatchWriter)
	if !logged && !ok {
		return a
	}
	// The cache calls putBatch under its lock, one flush at a time: the
	// list of windows is kept for the next flush.
	var scratch []WindowKeyValue
	a.putBatch = func(entries []KeyValue, ctxs []RecordContext) error {
		scratch = slices.Grow(scratch[:0], len(entries))[:len(entries)]
		ws := scratch
		defer clear(ws)
		for i, e := range entries {
			key, start, _, err := DecodeWindowKey(e.Key)
			if err != nil {
				return err
			}
			ws[i] = WindowKeyValue{Key: key, Start: start, Value: e.Value, enc: e.Key}
		}
		if logged {
			return cp.putWindowsWithContexts(ws, ctxs)
		}
		if bb, ok := w.(windowBufferedPutter); ok {
			return bb.putWindowsBuffered(ws)
		}
		return bw.PutWindows(ws)
	}
	return a
}

func sessionKV(s SessionStore) encodedKV {
	a := encodedKV{Store: s,
		get: func(enc []byte) ([]byte, error) {
			key, start, end, err := DecodeSessionKey(enc)
			if err != nil {
				return nil, err
			}
			return s.FetchSession(key, start, end)
		},
		put: func(enc, value []byte) error {
			key, start, end, err := DecodeSessionKey(enc)
			if err != nil {
				return err
			}
			if value == nil {
				return s.Remove(key, start, end)
			}
			return s.Put(key, start, end, value)
		}}
	cp, logged := s.(sessionContextPutter)
	bw, ok := s.(SessionBatchWriter)
	if !logged && !ok {
		return a
	}
	a.putBatch = func(entries []KeyValue, ctxs []RecordContext) error {
		ss := make([]SessionKeyValue, len(entries))
		for i, e := range entries {
			key, start, end, err := DecodeSessionKey(e.Key)
			if err != nil {
				return err
			}
			ss[i] = SessionKeyValue{Key: key, Start: start, End: end, Value: e.Value}
		}
		if logged {
			return cp.putSessionsWithContexts(ss, ctxs)
		}
		if bb, ok := s.(sessionBufferedPutter); ok {
			return bb.putSessionsBuffered(ss)
		}
		return bw.PutSessions(ss)
	}
	return a
}

func (a encodedKV) Get(enc []byte) ([]byte, error) { return a.get(enc) }
func (a encodedKV) Put(enc, value []byte) error    { return a.put(enc, value) }

func (a encodedKV) PutIfAbsent(enc, value []byte) ([]byte, error) {
	old, err := a.Get(enc)
	if err != nil || old != nil {
		return old, err
	}
	return nil, a.Put(enc, value)
}

func (a encodedKV) PutAll(entries []KeyValue) error {
	for _, e := range entries {
		if err := a.Put(e.Key, e.Value); err != nil {
			return err
		}
	}
	return nil
}

func (a encodedKV) Delete(enc []byte) ([]byte, error) {
	old, err := a.Get(enc)
	if err != nil || old == nil {
		return old, err
	}
	return old, a.Put(enc, nil)
}

func (a encodedKV) Range(from, to []byte) (KeyValueIterator, error) { return nil, errWindowKVRange }
func (a encodedKV) ReverseRange(from, to []byte) (KeyValueIterator, error) {
	return nil, errWindowKVRange
}
func (a encodedKV) PrefixScan(prefix []byte) (KeyValueIterator, error) { return nil, errWindowKVRange }
func (a encodedKV) All() (KeyValueIterator, error)                     { return nil, errWindowKVRange }
func (a encodedKV) ReverseAll() (KeyValueIterator, error)              { return nil, errWindowKVRange }
func (a encodedKV) ApproximateNumEntries() (int64, error)              { return 0, nil }
