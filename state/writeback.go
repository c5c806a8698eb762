package state

import (
	"bytes"
	"sync"
	"sync/atomic"
	"unsafe"

	"github.com/google/btree"
)

// A persistent engine pays for every call (a cgo crossing and a memtable
// insert for RocksDB), and a store without the record cache sees one Get
// and one Put per record. The write-back buffer absorbs the writes between
// two flushes (two commits) in a Go map, serves reads from it first, and
// writes it to the engine as one batch at Flush: a hot key costs one engine
// write per commit instead of one per record. It sits under the logging and
// caching layers, so what is forwarded downstream and what is logged does
// not change: "cache off" still forwards and logs every update.
//
// A commit's flush keeps the entries it wrote, clean, until the next one:
// they serve reads as the engine would. A hot key then costs no engine read
// after each commit either (a RocksDB Get is a cgo call and a memtable and
// level search, about 4 µs here). Entries not written again by the next
// flush are dropped then, so the buffer holds at most the keys written in
// the last two commit intervals, within the same bound.
//
// Scans merge the buffered entries with the engine's (writeback_iter.go). A
// batch write (PutAll, restoration) also writes the buffer first, then goes
// straight to the engine. The buffer is bounded: past maxBytes it is
// written early.

// DefaultWriteBackBytes bounds the write-back buffer of one engine database.
const DefaultWriteBackBytes = 4 << 20

// writeBackOverhead is what one buffered entry costs besides its bytes (map
// slot, string and slice headers), counted against the bound.
const writeBackOverhead = 64

// pendingKeyIs reports whether p's key is key (the index's comparison).
func pendingKeyIs(p *pendingValue, key []byte) bool { return p.k == string(key) }

// pendingValue is a buffered write; a pointer, so that an overwrite
// changes it in place.
type pendingValue struct {
	k string // the key
	h uint64 // k's hash in the index
	v []byte // nil: deleted
	// dirty: written since the last drain, not in the engine yet. A clean
	// entry holds what the engine holds.
	dirty bool
}

type writeBack struct {
	inner EngineStore
	max   int

	mu      sync.Mutex
	pending hashIndex[pendingValue] // the buffered entries by key
	closed  bool                    // closed or destroyed: writes fail as the engine's would
	bytes   int
	dirty   int // entries not written to the engine yet
	batch   []KeyValue
	drops   []*pendingValue // scratch of the entries a pass drops
	// tree orders the buffered entries for scans; nil until the first.
	tree *btree.BTreeG[*pendingValue]
	// gen counts the drains, which open scans notice.
	gen uint64
	// last is the entry the last read found: an aggregation reads a key
	// and then writes it, and the write then finds the entry without a
	// second map lookup. Only an entry in pending; reset when it leaves.
	last *pendingValue
	// pool, when set, is the byte count shared by the buffers of a
	// segmented store's segments (segpool.go); bytes are added to it too.
	pool *atomic.Int64
	// empty: the engine holds nothing, as it was created empty (a new
	// segment) and nothing was written to it since; a read the buffer
	// misses then needs no engine call.
	empty bool
}

// NewWriteBackStore puts a write-back buffer of at most maxBytes in front of
// an engine database (maxBytes <= 0 uses DefaultWriteBackBytes). Engine
// packages wrap the databases they open with it.
func NewWriteBackStore(inner EngineStore, maxBytes int) EngineStore {
	if maxBytes <= 0 {
		maxBytes = DefaultWriteBackBytes
	}
	return &writeBack{inner: inner, max: maxBytes, pending: newHashIndex(pendingKeyIs)}
}

func (w *writeBack) Name() string       { return w.inner.Name() }
func (w *writeBack) Persistent() bool   { return w.inner.Persistent() }
func (w *writeBack) OpenIterators() int { return w.inner.OpenIterators() }

// Unwrap returns the engine database behind the buffer.
func (w *writeBack) Unwrap() EngineStore { return w.inner }

// drainLocked writes the buffer's dirty entries to the engine as one batch
// and empties the buffer.
func (w *writeBack) drainLocked() error { return w.writeLocked(false) }

// writeLocked writes the dirty entries to the engine as one batch. With
// keep, the entries it wrote stay, clean, and the entries that were clean
// already go; without, the buffer is emptied.
func (w *writeBack) writeLocked(keep bool) error {
	if w.pending.len() == 0 {
		return nil
	}
	w.gen++ // open scans reopen their engine iterators
	if w.dirty > 0 {
		batch := w.batch[:0]
		for _, s := range w.pending.slots {
			if v := s.e; v != nil && v.dirty {
				batch = append(batch, KeyValue{Key: unsafe.Slice(unsafe.StringData(v.k), len(v.k)), Value: v.v})
			}
		}
		w.empty = false
		err := w.inner.PutAll(batch)
		clear(batch)
		w.batch = batch[:0]
		if err != nil {
			return err
		}
	}
	w.dirty = 0
	if !keep {
		w.last = nil
		w.pending.clear()
		if w.tree != nil {
			w.tree.Clear(false)
		}
		w.addBytes(-w.bytes)
		return nil
	}
	drops := w.drops[:0]
	for _, s := range w.pending.slots {
		if v := s.e; v != nil {
			if !v.dirty {
				drops = append(drops, v)
			}
			v.dirty = false
		}
	}
	w.dropAllLocked(drops)
	return nil
}

// dropAllLocked drops the entries of drops, a scratch slice collected
// first: a drop moves entries in the index, which a pass over it would
// then skip or see twice.
func (w *writeBack) dropAllLocked(drops []*pendingValue) {
	for _, v := range drops {
		w.dropLocked(v)
	}
	clear(drops)
	w.drops = drops[:0]
}

// dropLocked removes entry v, clean, from the buffer.
func (w *writeBack) dropLocked(v *pendingValue) {
	if w.last == v {
		w.last = nil
	}
	w.pending.remove(v, v.h)
	if w.tree != nil {
		w.tree.Delete(v)
	}
	w.addBytes(-(len(v.k) + len(v.v) + writeBackOverhead))
}

// flush writes the dirty entries, keeping them to serve reads.
func (w *writeBack) flush() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.writeLocked(true)
}

// getLocked reads key from the buffer, then from the engine.
func (w *writeBack) getLocked(key []byte) ([]byte, error) {
	if p := w.pending.get(key); p != nil {
		w.last = p
		return p.v, nil
	}
	if w.empty {
		return nil, nil
	}
	return w.inner.Get(key)
}

// putLocked buffers a copy of key and value (nil value: a delete); with
// owned, value itself (the caller gave it up).
func (w *writeBack) putLocked(key, value []byte, owned bool) error {
	_, err := w.putEntryLocked(key, value, owned)
	return err
}

// putEntryLocked is putLocked returning the entry written.
func (w *writeBack) putEntryLocked(key, value []byte, owned bool) (*pendingValue, error) {
	p := w.last
	var h uint64
	at := -1
	if p == nil || p.k != string(key) {
		p, at, h = w.pending.find(key)
	}
	if p != nil {
		// A new slice: readers may still hold the old one.
		w.addBytes(len(value) - len(p.v))
		p.v = nil
		if value != nil {
			if !owned {
				value = append(make([]byte, 0, len(value)), value...)
			}
			p.v = value
		}
		if !p.dirty {
			p.dirty = true
			w.dirty++
		}
		return p, w.maybeDrainLocked()
	}
	// Key, value and entry in two allocations; the map key is a view of
	// the buffer.
	n := len(key)
	if !owned {
		n += len(value)
	}
	buf := make([]byte, n)
	copy(buf, key)
	p = &pendingValue{k: unsafe.String(unsafe.SliceData(buf), len(key)), h: h, dirty: true}
	w.dirty++
	if value != nil {
		if !owned {
			copy(buf[len(key):], value)
			value = buf[len(key):]
		}
		p.v = value
	}
	w.pending.insertAt(at, h, p)
	if w.tree != nil {
		w.tree.ReplaceOrInsert(p)
	}
	w.addBytes(len(key) + len(value) + writeBackOverhead)
	return p, w.maybeDrainLocked()
}

// maybeDrainLocked writes the buffer early when it is past its bound.
func (w *writeBack) maybeDrainLocked() error {
	if w.bytes >= w.max && w.dirty < w.pending.len() {
		// Clean entries go first: they cost an engine read, not a write.
		drops := w.drops[:0]
		for _, s := range w.pending.slots {
			if v := s.e; v != nil && !v.dirty {
				drops = append(drops, v)
			}
		}
		w.dropAllLocked(drops)
	}
	if w.bytes >= w.max {
		return w.drainLocked()
	}
	return nil
}

func (w *writeBack) Get(key []byte) ([]byte, error) {
	w.mu.Lock()
	p := w.pending.get(key)
	var v []byte
	if p != nil {
		v = p.v
		w.last = p
	}
	empty := w.empty
	w.mu.Unlock()
	if p != nil || empty {
		return v, nil
	}
	return w.inner.Get(key)
}

func (w *writeBack) Put(key, value []byte) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return ErrClosed
	}
	return w.putLocked(key, value, false)
}

// PutOwned is Put for a value the caller hands over: it will never modify
// it again, and the buffer keeps it instead of a copy. The typed table
// stores encode each value into a slice of its own, which the changelog
// record holds too; a copy per record was an allocation per update.
func (w *writeBack) PutOwned(key, value []byte) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return ErrClosed
	}
	return w.putLocked(key, value, true)
}

// PutOwnedKeyed is PutOwned returning the buffer's own copy of key, which
// stays unchanged as long as anything refers to it (the entry's key bytes
// are never written again): the logging layer sends it as the changelog
// record's key, so that the caller's key can be a scratch buffer.
func (w *writeBack) PutOwnedKeyed(key, value []byte) ([]byte, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return nil, ErrClosed
	}
	p, err := w.putEntryLocked(key, value, true)
	if len(p.k) == 0 {
		return key, err // nothing in it to change; keeps empty apart from nil
	}
	// Capacity cut at the key: the value may follow it in the same buffer.
	return unsafe.Slice(unsafe.StringData(p.k), len(p.k)), err
}

func (w *writeBack) PutIfAbsent(key, value []byte) ([]byte, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return nil, ErrClosed
	}
	old, err := w.getLocked(key)
	if err != nil || old != nil {
		return old, err
	}
	if value == nil {
		return nil, nil
	}
	return nil, w.putLocked(key, value, false)
}

func (w *writeBack) Delete(key []byte) ([]byte, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return nil, ErrClosed
	}
	old, err := w.getLocked(key)
	if err != nil || old == nil {
		return nil, err
	}
	return old, w.putLocked(key, nil, false)
}

// PutAll writes the buffer, then entries, straight to the engine: batches
// (restoration, a cache flush) gain nothing from the buffer.
func (w *writeBack) PutAll(entries []KeyValue) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if err := w.drainLocked(); err != nil {
		return err
	}
	w.empty = false
	return w.inner.PutAll(entries)
}

// PutAllBuffered writes entries into the buffer as that many Puts would:
// a key written again before the next flush costs one engine write. The
// window and session stores write their record cache's evictions with it
// (segments.writeBatch): a cache flushes the same windows again at each
// eviction, several times between two commits.
func (w *writeBack) PutAllBuffered(entries []KeyValue) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return ErrClosed
	}
	for _, e := range entries {
		if err := w.putLocked(e.Key, e.Value, false); err != nil {
			return err
		}
	}
	return nil
}

func (w *writeBack) ApproximateNumEntries() (int64, error) {
	w.mu.Lock()
	n := w.dirty // clean entries are in the engine's count
	w.mu.Unlock()
	m, err := w.inner.ApproximateNumEntries()
	return m + int64(n), err
}

func (w *writeBack) Range(from, to []byte) (KeyValueIterator, error) {
	if from != nil && to != nil && bytes.Compare(from, to) > 0 {
		return w.inner.Range(from, to) // empty
	}
	return w.merged(from, to, true, false)
}

func (w *writeBack) ReverseRange(from, to []byte) (KeyValueIterator, error) {
	if from != nil && to != nil && bytes.Compare(from, to) > 0 {
		return w.inner.ReverseRange(from, to) // empty
	}
	return w.merged(from, to, true, true)
}

func (w *writeBack) PrefixScan(prefix []byte) (KeyValueIterator, error) {
	if len(prefix) == 0 {
		return w.merged(nil, nil, false, false)
	}
	return w.merged(prefix, prefixEnd(prefix), false, false)
}

func (w *writeBack) All() (KeyValueIterator, error) { return w.merged(nil, nil, false, false) }

func (w *writeBack) ReverseAll() (KeyValueIterator, error) { return w.merged(nil, nil, false, true) }

func (w *writeBack) Scan(lo, hi []byte, hiIncl, reverse bool) (KeyValueIterator, error) {
	return w.merged(lo, hi, hiIncl, reverse)
}

// Flush writes the buffer as one batch, then makes the engine durable.
func (w *writeBack) Flush() error {
	if err := w.flush(); err != nil {
		return err
	}
	return w.inner.Flush()
}

// Close writes the buffer and closes the engine (which flushes it).
func (w *writeBack) Close() error {
	w.mu.Lock()
	err := w.drainLocked()
	w.pending.release()
	w.addBytes(-w.bytes)
	w.last = nil
	w.tree = nil
	w.closed = true
	w.mu.Unlock()
	if cerr := w.inner.Close(); cerr != nil {
		return cerr
	}
	if err == ErrClosed {
		return nil // closed before: nothing was buffered since
	}
	return err
}

// Destroy drops the buffer with the database.
func (w *writeBack) Destroy() error {
	w.mu.Lock()
	w.pending.release()
	w.last = nil
	w.tree = nil
	w.addBytes(-w.bytes)
	w.dirty = 0
	w.closed = true
	w.mu.Unlock()
	return w.inner.Destroy()
}
