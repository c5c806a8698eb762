package state

import (
	"bytes"
	"cmp"
	"errors"
	"sort"
	"sync/atomic"
	"time"
)

// CachingWindowStore is the record cache in front of a window store, for
// windowed aggregations: repeated updates of a window are absorbed and only
// its latest value is written below and passed to the flush listener, on
// Flush or eviction. Fetches merge the cache with the store.
//
// The cache keys windows by WindowKey(key, windowStart): the listener set
// with SetFlushListener receives that encoding as its key (decode it with
// DecodeWindowKey, or use SetWindowFlushListener). It is not meant for
// stores that retain duplicates.
type CachingWindowStore struct {
	inner     WindowStore
	kv        *CachingKeyValueStore
	iters     iterCount
	retention int64 // ms; maxTime keeps forever
	observed  atomic.Int64
	dropped   atomic.Int64
}

var (
	_ WindowStore     = (*CachingWindowStore)(nil)
	_ CachedStore     = (*CachingWindowStore)(nil)
	_ IteratorCounter = (*CachingWindowStore)(nil)
)

// WindowFlushListener is a FlushListener with the window key decoded.
type WindowFlushListener func(key []byte, windowStart int64, newValue, oldValue []byte, timestamp int64) error

// NewCachingWindowStore puts a cache of at most maxBytes in front of inner.
// retention is the store's (0 keeps forever): the cache applies it too, so
// that cached windows expire as the store's do.
func NewCachingWindowStore(inner WindowStore, retention time.Duration, maxBytes int64) *CachingWindowStore {
	c := &CachingWindowStore{inner: inner, kv: NewCachingKeyValueStore(windowKV{inner}, maxBytes), retention: retentionMs(retention)}
	c.observed.Store(minTime)
	return c
}

// minLive is the smallest window start still retained.
func (c *CachingWindowStore) minLive() int64 {
	o := c.observed.Load()
	if o == minTime || o-c.retention+1 > o {
		return minTime
	}
	return o - c.retention + 1
}

// observe advances the stream time and reports whether windowStart is live.
func (c *CachingWindowStore) observe(windowStart int64) bool {
	for {
		o := c.observed.Load()
		if windowStart <= o || c.observed.CompareAndSwap(o, windowStart) {
			break
		}
	}
	if windowStart < c.minLive() {
		c.dropped.Add(1)
		return false
	}
	return true
}

// DroppedExpiredRecords counts the puts dropped as expired, here and below.
func (c *CachingWindowStore) DroppedExpiredRecords() int64 {
	n := c.dropped.Load()
	if e, ok := c.inner.(ExpiredRecordCounter); ok {
		n += e.DroppedExpiredRecords()
	}
	return n
}

// Inner is the store below the cache.
func (c *CachingWindowStore) Inner() WindowStore { return c.inner }

func (c *CachingWindowStore) Name() string       { return c.inner.Name() }
func (c *CachingWindowStore) Persistent() bool   { return c.inner.Persistent() }
func (c *CachingWindowStore) OpenIterators() int { return c.iters.OpenIterators() }

func (c *CachingWindowStore) SetFlushListener(fn FlushListener) { c.kv.SetFlushListener(fn) }
func (c *CachingWindowStore) SetTimestampSource(fn func() int64) {
	c.kv.SetTimestampSource(fn)
}

// SetWindowFlushListener sets the flush listener, with keys decoded.
func (c *CachingWindowStore) SetWindowFlushListener(fn WindowFlushListener) {
	if fn == nil {
		c.kv.SetFlushListener(nil)
		return
	}
	c.kv.SetFlushListener(func(enc, nv, ov []byte, ts int64) error {
		key, start, _, err := DecodeWindowKey(enc)
		if err != nil {
			return err
		}
		return fn(key, start, nv, ov, ts)
	})
}

// CacheStats: see CachingKeyValueStore.CacheStats.
func (c *CachingWindowStore) CacheStats() (bytes int64, entries int, hits, misses int64) {
	return c.kv.CacheStats()
}

// FlushCache writes the dirty windows below without flushing the store.
func (c *CachingWindowStore) FlushCache() error { return c.kv.FlushCache() }

// Flush flushes the cache, then the store below.
func (c *CachingWindowStore) Flush() error { return c.kv.Flush() }

// Close flushes the cache and closes the store below.
func (c *CachingWindowStore) Close() error {
	err := c.kv.Close()
	if lerr := leakErr(c.Name(), c.iters.OpenIterators()); lerr != nil {
		return errors.Join(lerr, err)
	}
	return err
}

func (c *CachingWindowStore) Put(key, value []byte, windowStart int64) error {
	if !c.observe(windowStart) {
		return nil
	}
	return c.kv.Put(WindowKey(key, windowStart), value)
}

// PutWithTimestamp caches the window with the timestamp of the record that
// wrote it.
func (c *CachingWindowStore) PutWithTimestamp(key, value []byte, windowStart, ts int64) error {
	if !c.observe(windowStart) {
		return nil
	}
	return c.kv.PutWithTimestamp(WindowKey(key, windowStart), value, ts)
}

func (c *CachingWindowStore) Fetch(key []byte, windowStart int64) ([]byte, error) {
	if windowStart < c.minLive() {
		return nil, nil
	}
	return c.kv.Get(WindowKey(key, windowStart))
}

func (c *CachingWindowStore) FetchRange(key []byte, timeFrom, timeTo int64) (WindowIterator, error) {
	return c.fetchRange(key, timeFrom, timeTo, false)
}

func (c *CachingWindowStore) BackwardFetchRange(key []byte, timeFrom, timeTo int64) (WindowIterator, error) {
	return c.fetchRange(key, timeFrom, timeTo, true)
}

func (c *CachingWindowStore) fetchRange(key []byte, from, to int64, reverse bool) (WindowIterator, error) {
	from = max(from, c.minLive())
	var under WindowIterator
	var err error
	if reverse {
		under, err = c.inner.BackwardFetchRange(key, from, to)
	} else {
		under, err = c.inner.FetchRange(key, from, to)
	}
	if err != nil {
		return nil, err
	}
	var cur kvSource = emptySource{}
	if from <= to {
		cur = c.cursor(WindowKey(key, from), WindowKey(key, to), true, reverse)
	}
	return c.newMerge(cur, under, from, to, reverse, keyThenTime), nil
}

func (c *CachingWindowStore) FetchKeyRange(keyFrom, keyTo []byte, timeFrom, timeTo int64) (WindowIterator, error) {
	timeFrom = max(timeFrom, c.minLive())
	under, err := c.inner.FetchKeyRange(keyFrom, keyTo, timeFrom, timeTo)
	if err != nil {
		return nil, err
	}
	var cur kvSource = emptySource{}
	if timeFrom <= timeTo && (keyFrom == nil || keyTo == nil || bytes.Compare(keyFrom, keyTo) <= 0) {
		var lo, hi []byte
		if keyFrom != nil {
			lo = WindowKey(keyFrom, timeFrom)
		}
		if keyTo != nil {
			hi = keyPrefixEnd(keyTo)
		}
		cur = c.cursor(lo, hi, false, false)
	}
	return c.newMerge(cur, under, timeFrom, timeTo, false, keyThenTime), nil
}

func (c *CachingWindowStore) All() (WindowIterator, error) {
	under, err := c.inner.All()
	if err != nil {
		return nil, err
	}
	return c.newMerge(c.cursor(nil, nil, false, false), under, c.minLive(), maxTime, false, keyThenTime), nil
}

// FetchAll is ordered by window start, then key, as the store's: the
// cache's windows of the range are sorted in memory (the cache is small).
func (c *CachingWindowStore) FetchAll(timeFrom, timeTo int64) (WindowIterator, error) {
	timeFrom = max(timeFrom, c.minLive())
	under, err := c.inner.FetchAll(timeFrom, timeTo)
	if err != nil {
		return nil, err
	}
	var items []kvItem
	if timeFrom <= timeTo {
		cur := c.cursor(nil, nil, false, false)
		for {
			it, ok := cur.peek()
			if !ok {
				break
			}
			cur.pop()
			if _, start, _, err := DecodeWindowKey(it.key); err == nil && start >= timeFrom && start <= timeTo {
				items = append(items, it)
			}
		}
		sort.Slice(items, func(i, j int) bool {
			ki, si, _, _ := DecodeWindowKey(items[i].key)
			kj, sj, _, _ := DecodeWindowKey(items[j].key)
			return timeThenKey(ki, si, kj, sj) < 0
		})
	}
	return c.newMerge(&sliceSource{items: items}, under, timeFrom, timeTo, false, timeThenKey), nil
}

func (c *CachingWindowStore) cursor(lo, hi []byte, hiIncl, reverse bool) *cacheCursor {
	return &cacheCursor{c: c.kv, lo: lo, hi: hi, hiIncl: hiIncl, reverse: reverse, chunk: 8}
}

func keyThenTime(k1 []byte, s1 int64, k2 []byte, s2 int64) int {
	if c := bytes.Compare(k1, k2); c != 0 {
		return c
	}
	return cmp.Compare(s1, s2)
}

func timeThenKey(k1 []byte, s1 int64, k2 []byte, s2 int64) int {
	if c := cmp.Compare(s1, s2); c != 0 {
		return c
	}
	return bytes.Compare(k1, k2)
}

// kvSource is a sorted run of cache entries.
type kvSource interface {
	peek() (kvItem, bool)
	pop()
}

func (cc *cacheCursor) pop() { cc.pos++ }

type emptySource struct{}

func (emptySource) peek() (kvItem, bool) { return kvItem{}, false }
func (emptySource) pop()                 {}

type sliceSource struct{ items []kvItem }

func (s *sliceSource) peek() (kvItem, bool) {
	if len(s.items) == 0 {
		return kvItem{}, false
	}
	return s.items[0], true
}
func (s *sliceSource) pop() { s.items = s.items[1:] }

func (c *CachingWindowStore) newMerge(cache kvSource, under WindowIterator, from, to int64, reverse bool,
	order func([]byte, int64, []byte, int64) int) *cacheWindowIter {
	c.iters.opened()
	it := &cacheWindowIter{owner: &c.iters, store: c.kv, cache: cache, under: under,
		from: from, to: to, reverse: reverse, order: order}
	it.underOK = under.Next()
	return it
}

// cacheWindowIter merges the cache's windows with the store's: cached
// values win, cached deletes hide.
type cacheWindowIter struct {
	owner    *iterCount
	store    *CachingKeyValueStore
	cache    kvSource
	under    WindowIterator
	underOK  bool
	advance  bool
	from, to int64
	reverse  bool
	order    func([]byte, int64, []byte, int64) int

	key    []byte
	start  int64
	value  []byte
	err    error
	closed bool
}

func (it *cacheWindowIter) Next() bool {
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
		}
		if it.underOK {
			// The store may lag the cache's stream time: hide what the
			// cache already considers expired.
			if st := it.under.WindowStart(); st < it.from || st > it.to {
				it.underOK = it.under.Next()
				continue
			}
		}
		head, cacheOK := it.cache.peek()
		var ck []byte
		var cs int64
		if cacheOK {
			var err error
			if ck, cs, _, err = DecodeWindowKey(head.key); err != nil {
				it.err = err
				return false
			}
			if cs < it.from || cs > it.to {
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
			c := it.order(ck, cs, it.under.Key(), it.under.WindowStart())
			if c == 0 {
				it.underOK = it.under.Next()
				useCache = true
			} else {
				useCache = (c < 0) != it.reverse
			}
		}
		if useCache {
			it.cache.pop()
			if head.value == nil {
				continue
			}
			it.key, it.start, it.value = ck, cs, head.value
			return true
		}
		it.key, it.start, it.value = it.under.Key(), it.under.WindowStart(), it.under.Value()
		it.advance = true
		return true
	}
}

func (it *cacheWindowIter) Key() []byte        { return it.key }
func (it *cacheWindowIter) WindowStart() int64 { return it.start }
func (it *cacheWindowIter) Value() []byte      { return it.value }
func (it *cacheWindowIter) Err() error         { return it.err }

func (it *cacheWindowIter) Close() error {
	if it.closed {
		return nil
	}
	it.closed = true
	it.cache = emptySource{}
	it.under.Close()
	it.owner.closed()
	return nil
}

// windowKV shows a window store as a key-value store of WindowKey
// encodings, for the cache's point reads and writes. Range reads are not
// supported: CachingWindowStore merges with the window store itself.
type windowKV struct{ w WindowStore }

var errWindowKVRange = errors.New("state: range reads on the key-value view of a cached window or session store")

func (a windowKV) Name() string     { return a.w.Name() }
func (a windowKV) Persistent() bool { return a.w.Persistent() }
func (a windowKV) Flush() error     { return a.w.Flush() }
func (a windowKV) Close() error     { return a.w.Close() }

func (a windowKV) Get(enc []byte) ([]byte, error) {
	key, start, _, err := DecodeWindowKey(enc)
	if err != nil {
		return nil, err
	}
	return a.w.Fetch(key, start)
}

func (a windowKV) Put(enc, value []byte) error {
	key, start, _, err := DecodeWindowKey(enc)
	if err != nil {
		return err
	}
	return a.w.Put(key, value, start)
}

func (a windowKV) PutIfAbsent(enc, value []byte) ([]byte, error) {
	old, err := a.Get(enc)
	if err != nil || old != nil {
		return old, err
	}
	return nil, a.Put(enc, value)
}

func (a windowKV) PutAll(entries []KeyValue) error {
	for _, e := range entries {
		if err := a.Put(e.Key, e.Value); err != nil {
			return err
		}
	}
	return nil
}

func (a windowKV) Delete(enc []byte) ([]byte, error) {
	old, err := a.Get(enc)
	if err != nil || old == nil {
		return old, err
	}
	return old, a.Put(enc, nil)
}

func (a windowKV) Range(from, to []byte) (KeyValueIterator, error) { return nil, errWindowKVRange }
func (a windowKV) ReverseRange(from, to []byte) (KeyValueIterator, error) {
	return nil, errWindowKVRange
}
func (a windowKV) PrefixScan(prefix []byte) (KeyValueIterator, error) { return nil, errWindowKVRange }
func (a windowKV) All() (KeyValueIterator, error)                     { return nil, errWindowKVRange }
func (a windowKV) ReverseAll() (KeyValueIterator, error)              { return nil, errWindowKVRange }
func (a windowKV) ApproximateNumEntries() (int64, error)              { return 0, nil }
