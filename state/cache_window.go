package state

import (
	"bytes"
	"cmp"
	"sort"
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
	timedCache
	inner WindowStore
	idx   *windowIndex // guarded by kv.mu
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
	c := &CachingWindowStore{inner: inner}
	c.init(inner, windowKV(inner), retention, maxBytes)
	c.kv.belowLive = windowBelowLive(inner)
	c.idx = newWindowIndex()
	c.kv.added, c.kv.dropped = c.idx.add, c.idx.drop
	return c
}

// liveBounded is a store that drops what has expired: nothing older than
// minLive is retained (the segmented window and session stores).
type liveBounded interface{ minLive() int64 }

// windowBelowLive returns, for the cache in front of w, whether w still
// holds a window it was given (see CachingKeyValueStore.belowLive): a
// window that has expired below is gone even though the cache remembers
// what it wrote. When w does not say what it retains (a store of another
// kind, under wrappers that do not unwrap), nothing is taken as retained
// and the cache reads the old value from w.
func windowBelowLive(w WindowStore) func([]byte) bool {
	var s Store = w
	for {
		if b, ok := s.(liveBounded); ok {
			return func(enc []byte) bool {
				_, start, _, err := DecodeWindowKey(enc)
				return err == nil && start >= b.minLive()
			}
		}
		u, ok := s.(LoggedStore)
		if !ok {
			return func([]byte) bool { return false }
		}
		s = u.Unwrap()
	}
}

// Inner is the store below the cache.
func (c *CachingWindowStore) Inner() WindowStore { return c.inner }

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

func (c *CachingWindowStore) Put(key, value []byte, windowStart int64) error {
	return c.put(key, valueCopy(value), windowStart, 0, false)
}

// PutOwned is Put of a value the caller hands over: it never modifies it
// again, and the cache keeps it instead of a copy. A windowed aggregation
// encodes each window's new aggregate into a slice of its own.
func (c *CachingWindowStore) PutOwned(key, value []byte, windowStart int64) error {
	return c.put(key, value, windowStart, 0, false)
}

// PutWithTimestamp caches the window with the timestamp of the record that
// wrote it.
func (c *CachingWindowStore) PutWithTimestamp(key, value []byte, windowStart, ts int64) error {
	return c.put(key, valueCopy(value), windowStart, ts, true)
}

// put caches value, the cache's own slice.
func (c *CachingWindowStore) put(key, value []byte, start, ts int64, withTS bool) error {
	if !c.observe(start) {
		return nil
	}
	kv := c.kv
	kv.mu.Lock()
	if kv.closed {
		kv.mu.Unlock()
		return ErrClosed
	}
	if !withTS {
		ts = kv.now()
	}
	if e := c.idx.find(key, start); e != nil {
		return kv.unlockAndNotify(kv.update(e, value, ts, true))
	}
	if c.idx.unindexed == 0 {
		// Every entry is in the window index, which has none for this
		// window: the record cache's index has none either.
		return kv.unlockAndNotify(kv.insertNew(WindowKey(key, start), true, value, ts, true))
	}
	return kv.unlockAndNotify(kv.insertKey(WindowKey(key, start), true, value, ts, true))
}

func (c *CachingWindowStore) Fetch(key []byte, windowStart int64) ([]byte, error) {
	if windowStart < c.minLive() {
		return nil, nil
	}
	kv := c.kv
	kv.mu.Lock()
	if kv.closed {
		kv.mu.Unlock()
		return nil, ErrClosed
	}
	e := c.idx.find(key, windowStart)
	var enc []byte
	if e == nil {
		enc = WindowKey(key, windowStart)
		if c.idx.unindexed > 0 {
			e = kv.lookup(enc)
		}
	}
	if e != nil {
		kv.hits++
		kv.touch(e)
		v := e.value
		kv.mu.Unlock()
		return v, nil
	}
	return kv.getBelow(enc)
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
	return &cacheCursor{c: c.kv, chunkReader: chunkReader{chunkBounds: chunkBounds{lo: lo, hi: hi, hiIncl: hiIncl, reverse: reverse}, chunk: 8}}
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
	c.iters.Opened()
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
	it.owner.Closed()
	return nil
}
