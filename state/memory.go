package state

import (
	"bytes"
	"sync"

	"github.com/google/btree"
)

// kvItem is one entry of an in-memory tree. Its slices are never modified
// after insertion (an update inserts a new item), so readers may hold them.
type kvItem struct {
	key, value []byte
}

func kvLess(a, b kvItem) bool { return bytes.Compare(a.key, b.key) < 0 }

const btreeDegree = 32

// memKV is the in-memory key-value engine: a B-tree of byte keys guarded by
// a read-write lock. Values returned by Get and iterators are the stored
// slices themselves: callers must not modify them.
type memKV struct {
	name   string
	mu     sync.RWMutex
	tree   *btree.BTreeG[kvItem]
	closed bool
	iters  iterCount
	// filter, when set (time segments of window and session stores),
	// answers most Gets of absent keys without walking the tree.
	filter *keyFilter
}

// NewInMemoryKeyValueStore returns an empty key-value store held in a
// B-tree. It is not persistent: its content is lost on Close.
func NewInMemoryKeyValueStore(name string) KeyValueStore {
	return newMemKV(name)
}

func newMemKV(name string) *memKV {
	return &memKV{name: name, tree: btree.NewG[kvItem](btreeDegree, kvLess)}
}

// newFilteredMemKV is newMemKV with a Bloom filter of its keys.
func newFilteredMemKV(name string) *memKV {
	s := newMemKV(name)
	s.filter = newKeyFilter(0)
	return s
}

func (s *memKV) Name() string       { return s.name }
func (s *memKV) Persistent() bool   { return false }
func (s *memKV) Flush() error       { return nil }
func (s *memKV) OpenIterators() int { return s.iters.OpenIterators() }

func (s *memKV) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	s.tree, s.filter = nil, nil
	return leakErr(s.name, s.iters.OpenIterators())
}

// newItem copies key and value into one allocation.
func newItem(key, value []byte) kvItem {
	buf := make([]byte, len(key)+len(value))
	n := copy(buf, key)
	copy(buf[n:], value)
	return kvItem{key: buf[:n:n], value: buf[n:]}
}

func (s *memKV) Get(key []byte) ([]byte, error) {
	s.mu.RLock()
	if s.closed {
		s.mu.RUnlock()
		return nil, ErrClosed
	}
	if s.filter != nil && !s.filter.mayContain(key) {
		s.mu.RUnlock()
		return nil, nil
	}
	it, ok := s.tree.Get(kvItem{key: key})
	s.mu.RUnlock()
	if !ok {
		return nil, nil
	}
	return it.value, nil
}

func (s *memKV) Put(key, value []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	s.putLocked(key, value)
	return nil
}

func (s *memKV) putLocked(key, value []byte) {
	if value == nil {
		s.tree.Delete(kvItem{key: key})
		return
	}
	if _, replaced := s.tree.ReplaceOrInsert(newItem(key, value)); !replaced && s.filter != nil {
		if s.filter.full() {
			s.rebuildFilterLocked()
		} else {
			s.filter.add(key)
		}
	}
}

// rebuildFilterLocked sizes the filter for twice the keys held and adds
// them all: deleted keys' bits go with the old filter.
func (s *memKV) rebuildFilterLocked() {
	f := newKeyFilter(2 * s.tree.Len())
	s.tree.Ascend(func(it kvItem) bool {
		f.add(it.key)
		return true
	})
	f.added = s.tree.Len()
	s.filter = f
}

func (s *memKV) PutIfAbsent(key, value []byte) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, ErrClosed
	}
	if old, ok := s.tree.Get(kvItem{key: key}); ok {
		return old.value, nil
	}
	s.putLocked(key, value)
	return nil, nil
}

func (s *memKV) PutAll(entries []KeyValue) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	for _, e := range entries {
		s.putLocked(e.Key, e.Value)
	}
	return nil
}

func (s *memKV) Delete(key []byte) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, ErrClosed
	}
	old, ok := s.tree.Delete(kvItem{key: key})
	if !ok {
		return nil, nil
	}
	return old.value, nil
}

func (s *memKV) ApproximateNumEntries() (int64, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return 0, ErrClosed
	}
	return int64(s.tree.Len()), nil
}

func (s *memKV) Range(from, to []byte) (KeyValueIterator, error) {
	return s.rangeIter(from, to, false)
}

func (s *memKV) ReverseRange(from, to []byte) (KeyValueIterator, error) {
	return s.rangeIter(from, to, true)
}

func (s *memKV) rangeIter(from, to []byte, reverse bool) (KeyValueIterator, error) {
	if from != nil && to != nil && bytes.Compare(from, to) > 0 {
		if s.isClosed() {
			return nil, ErrClosed
		}
		return newEmptyKVIter(&s.iters), nil
	}
	return s.Scan(from, to, true, reverse)
}

func (s *memKV) PrefixScan(prefix []byte) (KeyValueIterator, error) {
	return s.Scan(prefix, prefixEnd(prefix), false, false)
}

func (s *memKV) All() (KeyValueIterator, error)        { return s.Scan(nil, nil, false, false) }
func (s *memKV) ReverseAll() (KeyValueIterator, error) { return s.Scan(nil, nil, false, true) }

func (s *memKV) isClosed() bool {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.closed
}

// scan iterates keys from lo (inclusive, nil = open) to hi (inclusive when
// hiIncl, else exclusive; nil = open).
func (s *memKV) Scan(lo, hi []byte, hiIncl, reverse bool) (KeyValueIterator, error) {
	if s.isClosed() {
		return nil, ErrClosed
	}
	s.iters.Opened()
	return &memIter{s: s, chunkReader: chunkReader{chunkBounds: chunkBounds{lo: lo, hi: hi, hiIncl: hiIncl, reverse: reverse}, chunk: 8}}, nil
}

// memIter reads the tree in chunks under the read lock and resumes after
// the last key it returned. It does not hold the lock between chunks, so
// writers are never blocked by an open iterator; it sees writes made after
// it was opened at keys it has not reached yet (weakly consistent, like the
// Kafka Streams in-memory store).
type memIter struct {
	s *memKV
	chunkReader
	cur    kvItem
	err    error
	closed bool
}

func (it *memIter) Next() bool {
	if it.closed || it.err != nil {
		return false
	}
	e, ok := it.buffered()
	if !ok && !it.done && it.fill() {
		e, ok = it.buffered()
	}
	if !ok {
		it.cur = kvItem{}
		return false
	}
	it.cur = e
	it.pop()
	return true
}

func (it *memIter) fill() bool {
	s := it.s
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		it.stop()
		it.err = ErrClosed
		return false
	}
	return readChunk(&it.chunkReader, s.tree,
		func(e kvItem) kvItem { return e },
		func(key []byte) kvItem { return kvItem{key: key} }, 512)
}

func (it *memIter) Key() []byte   { return it.cur.key }
func (it *memIter) Value() []byte { return it.cur.value }
func (it *memIter) Err() error    { return it.err }

func (it *memIter) Close() error {
	if !it.closed {
		it.closed = true
		it.buf = nil
		it.cur = kvItem{}
		it.s.iters.Closed()
	}
	return nil
}
