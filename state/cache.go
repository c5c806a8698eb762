package state

import (
	"bytes"
	"errors"
	"sync"
	"sync/atomic"
	"unsafe"

	"github.com/google/btree"
	"github.com/kafki/kafki/serde"
)

// FlushListener receives what a record cache forwards when it flushes or
// evicts an entry: the key, its latest value (nil for a delete), the value
// the store below held before (nil when absent), and the timestamp of the
// record that last wrote it. Kafka Streams forwards these downstream.
type FlushListener func(key, newValue, oldValue []byte, timestamp int64) error

// CachedStore is implemented by stores with a record cache in front; the
// DSL finds them with a type assertion and forwards from the listener
// instead of on every put.
type CachedStore interface {
	Store
	SetFlushListener(FlushListener)
	// SetTimestampSource sets where Put finds the timestamp of the record
	// it writes (the processor context's current record).
	SetTimestampSource(func() int64)
}

// CachingKeyValueStore is a size-bounded record cache in front of a
// key-value store, with Kafka Streams' caching semantics: repeated updates
// of a key are absorbed, and only its latest value is written below and
// passed to the flush listener, on Flush (commit) or when the entry is
// evicted. Reads see the cache first; range scans merge cache and store.
//
// The store below is typically the changelog-logging wrapper of the engine
// store, so that only flushed values are logged.
type CachingKeyValueStore struct {
	inner    KeyValueStore
	maxBytes int64

	mu   sync.Mutex
	tree *btree.BTreeG[*cacheEntry]
	// treeLive: the tree holds every entry. It is built on the first
	// range read and kept from then on: a store read by key only (a
	// windowed aggregation's) never pays for it.
	treeLive bool
	// index finds an entry by key in O(1): point reads and writes are the
	// per-record path of every aggregation, the tree serves range scans.
	index    map[string]*cacheEntry
	lru      entryList
	dirty    entryList
	size     int64
	listener FlushListener
	tsSource func() int64
	// rc is the task's record context (SetRecordContext): writes take
	// their timestamp and headers from it, and the cache puts an entry's
	// back into it while it writes the entry below and forwards it.
	rc *RecordContext
	// shared is the thread's cache budget (SetThreadCache); nil: maxBytes
	// bounds this store alone.
	shared *ThreadCache
	closed bool
	iters  iterCount
	// closedFlag is closed, readable without mu by iterators.
	closedFlag atomic.Bool

	// pending holds what was written below and awaits the listener; the
	// listener runs after mu is released so that it may read the store.
	pending []flushed
	// scratch lists the entries a flush or eviction writes below.
	scratch []*cacheEntry
	batch   []KeyValue
	ctxs    []RecordContext
	hits    int64
	misses  int64
	// missKey is the last key a read found in neither the cache nor the
	// store below (missOK: it is set); an entry created for it by the next
	// write knows that the store below holds nothing for it.
	missKey []byte
	missOK  bool
	// belowLive, when set, reports whether the store below still retains
	// what was written to it for key (a window or session store drops
	// what has expired): an entry's memory of the value below is only
	// used when it does. nil: the store below keeps everything.
	belowLive func(key []byte) bool
	// added and dropped, when set, are told of each entry that enters or
	// leaves the index (the window cache's per-key index follows it).
	added, dropped func(e *cacheEntry)
}

type flushed struct {
	key, newValue, oldValue []byte
	ts                      int64
	headers                 []serde.Header
}

var (
	_ KeyValueStore   = (*CachingKeyValueStore)(nil)
	_ CachedStore     = (*CachingKeyValueStore)(nil)
	_ IteratorCounter = (*CachingKeyValueStore)(nil)
)

// NewCachingKeyValueStore puts a cache of at most maxBytes (keys, values
// and a per-entry overhead) in front of inner. With maxBytes 0 every put
// goes through at once.
func NewCachingKeyValueStore(inner KeyValueStore, maxBytes int64) *CachingKeyValueStore {
	return &CachingKeyValueStore{
		inner:    inner,
		maxBytes: maxBytes,
		tree:     btree.NewG[*cacheEntry](btreeDegree, cacheLess),
		index:    map[string]*cacheEntry{},
	}
}

// Inner is the store below the cache.
func (c *CachingKeyValueStore) Inner() KeyValueStore { return c.inner }

func (c *CachingKeyValueStore) Name() string     { return c.inner.Name() }
func (c *CachingKeyValueStore) Persistent() bool { return c.inner.Persistent() }

// OpenIterators counts the iterators opened on the cache.
func (c *CachingKeyValueStore) OpenIterators() int { return c.iters.OpenIterators() }

func (c *CachingKeyValueStore) SetFlushListener(fn FlushListener) {
	c.mu.Lock()
	c.listener = fn
	c.mu.Unlock()
}

func (c *CachingKeyValueStore) SetTimestampSource(fn func() int64) {
	c.mu.Lock()
	c.tsSource = fn
	c.mu.Unlock()
}

// SetRecordContext makes the cache take the timestamp and headers of each
// write from rc, the task's record context, and set rc to an entry's
// context while it writes the entry below (so that a logging store under
// it logs with the entry's timestamp) and while it calls the flush
// listener (so that what is forwarded carries the entry's headers).
func (c *CachingKeyValueStore) SetRecordContext(rc *RecordContext) {
	c.mu.Lock()
	c.rc = rc
	c.mu.Unlock()
}

// SetThreadCache makes the store share tc's budget with the other stores of
// a stream thread instead of its own maxBytes (Kafka Streams' ThreadCache):
// when the thread's caches together exceed it, the store being written
// evicts its least recently used entries, forwarding the dirty ones.
func (c *CachingKeyValueStore) SetThreadCache(tc *ThreadCache) {
	c.mu.Lock()
	if c.shared != nil {
		c.shared.size.Add(-c.size)
	}
	c.shared = tc
	if tc != nil {
		tc.size.Add(c.size)
	}
	c.mu.Unlock()
	c.mu.Lock()
	c.unlockAndNotify(c.evict()) //nolint:errcheck // nothing is dirty yet when the stack is built
}

// addSize moves the store's (and its thread's) byte count by n.
func (c *CachingKeyValueStore) addSize(n int64) {
	c.size += n
	if c.shared != nil {
		c.shared.size.Add(n)
	}
}

// over reports whether the cache must evict.
func (c *CachingKeyValueStore) over() bool {
	if c.shared != nil {
		return c.shared.size.Load() > c.shared.max.Load()
	}
	return c.size > c.maxBytes
}

// CacheStats reports the bytes and entries held and the read hits and
// misses so far.
func (c *CachingKeyValueStore) CacheStats() (bytes int64, entries int, hits, misses int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.size, len(c.index), c.hits, c.misses
}

func (c *CachingKeyValueStore) lookup(key []byte) *cacheEntry {
	return c.index[string(key)]
}

func (c *CachingKeyValueStore) touch(e *cacheEntry) {
	if c.lru.tail != e {
		c.lru.removeLRU(e)
		c.lru.pushLRU(e)
	}
}

// ensureTree builds the tree of entries on the first range read. Called
// with mu held.
func (c *CachingKeyValueStore) ensureTree() {
	if c.treeLive {
		return
	}
	c.treeLive = true
	for _, e := range c.index {
		c.tree.ReplaceOrInsert(e)
	}
}

// noteMiss remembers that key is in neither the cache nor the store below.
// Called with mu held.
func (c *CachingKeyValueStore) noteMiss(key []byte) {
	c.missKey, c.missOK = append(c.missKey[:0], key...), true
}

// insert caches value for key (dirty or clean) and evicts what no longer
// fits. Called with mu held.
func (c *CachingKeyValueStore) insert(key, value []byte, ts int64, dirty bool) error {
	return c.insertKey(key, false, valueCopy(value), ts, dirty)
}

// valueCopy is the cache's own copy of a value it is given: the caller
// may reuse its slice.
func valueCopy(value []byte) []byte {
	if value == nil {
		return nil
	}
	return append(make([]byte, 0, len(value)), value...)
}

// insertKey is insert of a value the cache keeps as it is (a copy, or
// one handed over); ownKey: key was allocated for the cache, which keeps
// it instead of a copy.
func (c *CachingKeyValueStore) insertKey(key []byte, ownKey bool, value []byte, ts int64, dirty bool) error {
	if e := c.lookup(key); e != nil {
		return c.update(e, value, ts, dirty)
	}
	return c.insertNew(key, ownKey, value, ts, dirty)
}

// insertNew is insertKey of a key the index does not hold (the caller
// looked it up already). Called with mu held.
func (c *CachingKeyValueStore) insertNew(key []byte, ownKey bool, value []byte, ts int64, dirty bool) error {
	if !ownKey {
		key = append([]byte(nil), key...)
	}
	e := &cacheEntry{key: key}
	e.belowKnown = dirty && c.missOK && bytes.Equal(key, c.missKey)
	if c.treeLive {
		c.tree.ReplaceOrInsert(e)
	}
	// The entry's key is never modified: the index shares its bytes.
	c.index[unsafe.String(unsafe.SliceData(e.key), len(e.key))] = e
	c.lru.pushLRU(e)
	if c.added != nil {
		c.added(e)
	}
	return c.set(e, value, ts, dirty)
}

// update replaces the value of e, an entry of the index, and evicts what
// no longer fits. Called with mu held.
func (c *CachingKeyValueStore) update(e *cacheEntry, value []byte, ts int64, dirty bool) error {
	c.addSize(-e.size())
	c.touch(e)
	if dirty && !e.dirty {
		// A clean entry holds the store's value: remember it as the
		// old value of the write below.
		e.below, e.belowKnown = e.value, true
	}
	return c.set(e, value, ts, dirty)
}

// set gives e its value and the record context of the write, and evicts
// what no longer fits. Called with mu held.
func (c *CachingKeyValueStore) set(e *cacheEntry, value []byte, ts int64, dirty bool) error {
	c.missOK = false
	e.value, e.ts, e.headers = value, ts, nil
	if dirty && c.rc != nil {
		// Processors do not modify headers they passed on, as with keys
		// and values: the slice is kept, not copied.
		e.headers = c.rc.Headers
	}
	if dirty {
		if e.dirty {
			c.dirty.removeDirty(e)
		}
		e.dirty = true
		c.dirty.pushDirty(e)
	}
	c.addSize(e.size())
	return c.evict()
}

// evict drops least recently used entries until the cache fits. Evicting
// a dirty entry first writes every dirty entry below in one batch, the
// evicted one first and then the others in the order of their last update,
// as Kafka Streams' NamedCache.evict flushes the whole cache when its
// eldest entry is dirty: the store below gets batches rather than single
// writes, and what is forwarded is what Kafka Streams forwards.
func (c *CachingKeyValueStore) evict() error {
	for c.over() && c.lru.head != nil {
		e := c.lru.head
		if e.dirty {
			c.scratch = append(c.scratch[:0], e)
			for d := c.dirty.head; d != nil; d = d.dnext {
				if d != e {
					c.scratch = append(c.scratch, d)
				}
			}
			err := c.writeBelow(c.scratch)
			clear(c.scratch)
			if err != nil {
				return err
			}
		}
		c.lru.removeLRU(e)
		if c.treeLive {
			c.tree.Delete(e)
		}
		delete(c.index, string(e.key))
		if c.dropped != nil {
			c.dropped(e)
		}
		c.addSize(-e.size())
	}
	return nil
}

func (c *CachingKeyValueStore) Get(key []byte) ([]byte, error) {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil, ErrClosed
	}
	if e := c.lookup(key); e != nil {
		c.hits++
		c.touch(e)
		v := e.value
		c.mu.Unlock()
		return v, nil
	}
	return c.getBelow(key)
}

// getBelow is Get of a key the cache does not hold: it reads the store
// below and caches what it finds. Called with mu held; releases it.
func (c *CachingKeyValueStore) getBelow(key []byte) ([]byte, error) {
	c.misses++
	v, err := c.inner.Get(key)
	if err == nil && v == nil {
		c.noteMiss(key)
	}
	if err != nil || v == nil {
		c.mu.Unlock()
		return v, err
	}
	err = c.insert(key, v, 0, false)
	return v, c.unlockAndNotify(err)
}

func (c *CachingKeyValueStore) now() int64 {
	if c.rc != nil {
		return c.rc.Timestamp
	}
	if c.tsSource != nil {
		return c.tsSource()
	}
	return 0
}

// Put caches value (nil deletes) with the timestamp of the timestamp
// source.
func (c *CachingKeyValueStore) Put(key, value []byte) error {
	c.mu.Lock()
	return c.put(key, value, c.now())
}

// PutWithTimestamp caches value with the timestamp of the record that
// wrote it, passed to the flush listener.
func (c *CachingKeyValueStore) PutWithTimestamp(key, value []byte, ts int64) error {
	c.mu.Lock()
	return c.put(key, value, ts)
}

// put runs with mu held and releases it.
func (c *CachingKeyValueStore) put(key, value []byte, ts int64) error {
	if c.closed {
		c.mu.Unlock()
		return ErrClosed
	}
	return c.unlockAndNotify(c.insert(key, value, ts, true))
}

// putEncoded is Put (withTS false) or PutWithTimestamp for a key the
// caller encoded for this call (the window and session caches' keys): the
// cache keeps it rather than a copy.
func (c *CachingKeyValueStore) putEncoded(key, value []byte, ts int64, withTS bool) error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return ErrClosed
	}
	if !withTS {
		ts = c.now()
	}
	return c.unlockAndNotify(c.insertKey(key, true, valueCopy(value), ts, true))
}

// getLocked reads through the cache without caching the read.
func (c *CachingKeyValueStore) getLocked(key []byte) ([]byte, error) {
	if e := c.lookup(key); e != nil {
		return e.value, nil
	}
	return c.inner.Get(key)
}

func (c *CachingKeyValueStore) PutIfAbsent(key, value []byte) ([]byte, error) {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil, ErrClosed
	}
	old, err := c.getLocked(key)
	if err != nil || old != nil {
		c.mu.Unlock()
		return old, err
	}
	return nil, c.unlockAndNotify(c.insert(key, value, c.now(), true))
}

func (c *CachingKeyValueStore) PutAll(entries []KeyValue) error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return ErrClosed
	}
	ts := c.now()
	var err error
	for _, e := range entries {
		if err = c.insert(e.Key, e.Value, ts, true); err != nil {
			break
		}
	}
	return c.unlockAndNotify(err)
}

func (c *CachingKeyValueStore) Delete(key []byte) ([]byte, error) {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil, ErrClosed
	}
	old, err := c.getLocked(key)
	if err != nil {
		c.mu.Unlock()
		return nil, err
	}
	return old, c.unlockAndNotify(c.insert(key, nil, c.now(), true))
}

func (c *CachingKeyValueStore) ApproximateNumEntries() (int64, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return 0, ErrClosed
	}
	n, err := c.inner.ApproximateNumEntries()
	for e := c.dirty.head; e != nil; e = e.dnext {
		if e.value != nil {
			n++
		}
	}
	return n, err
}

// FlushCache writes every dirty entry below in one batch and calls the
// listener for each, without flushing the store below.
func (c *CachingKeyValueStore) FlushCache() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return ErrClosed
	}
	return c.unlockAndNotify(c.flushLocked())
}

func (c *CachingKeyValueStore) flushLocked() error {
	c.scratch = c.scratch[:0]
	for e := c.dirty.head; e != nil; e = e.dnext {
		c.scratch = append(c.scratch, e)
	}
	if len(c.scratch) == 0 {
		return nil
	}
	err := c.writeBelow(c.scratch)
	clear(c.scratch)
	return err
}

// Flush flushes the cache (see FlushCache), then the store below.
func (c *CachingKeyValueStore) Flush() error {
	if err := c.FlushCache(); err != nil {
		return err
	}
	return c.inner.Flush()
}

// Close flushes the cache and closes the store below.
func (c *CachingKeyValueStore) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	ferr := c.unlockAndNotify(c.flushLocked())
	c.mu.Lock()
	c.closed = true
	c.closedFlag.Store(true)
	c.tree.Clear(false)
	c.treeLive = false
	if c.dropped != nil {
		for _, e := range c.index {
			c.dropped(e)
		}
	}
	clear(c.index)
	c.addSize(-c.size)
	c.lru, c.dirty = entryList{}, entryList{}
	c.mu.Unlock()
	cerr := c.inner.Close()
	if lerr := leakErr(c.Name(), c.iters.OpenIterators()); lerr != nil {
		return errors.Join(lerr, ferr, cerr)
	}
	return errors.Join(ferr, cerr)
}
