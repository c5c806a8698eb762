package pebble

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"sync"
	"sync/atomic"

	"github.com/cockroachdb/pebble/v2"

	"github.com/kafki/kafki/state"
	"github.com/kafki/kafki/state/internal/enginekit"
)

// pebbleKV is one Pebble database in its own directory.
type pebbleKV struct {
	name string
	dir  string

	// mu guards the database's lifetime: operations hold it for reading,
	// Close for writing.
	mu     sync.RWMutex
	closed bool
	db     *pebble.DB

	// wmu serialises the read-modify-write operations.
	wmu sync.Mutex

	// unflushed counts the writes since the last Flush, for
	// ApproximateNumEntries (Pebble does not count memtable entries).
	unflushed atomic.Int64

	iters enginekit.IterCount
	imu   sync.Mutex
	open  map[*pebbleIter]struct{}
}

func (s *pebbleKV) Name() string       { return s.name }
func (s *pebbleKV) Persistent() bool   { return true }
func (s *pebbleKV) OpenIterators() int { return s.iters.OpenIterators() }

func (s *pebbleKV) Flush() error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return state.ErrClosed
	}
	if err := s.db.Flush(); err != nil {
		return err
	}
	s.unflushed.Store(0)
	return nil
}

// Close flushes the memtables and closes the database. Iterators still
// open are closed too, and reported in the error.
func (s *pebbleKV) Close() error { return s.close(true) }

func (s *pebbleKV) close(flush bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	s.imu.Lock()
	leaked := len(s.open)
	for it := range s.open {
		it.release(state.ErrClosed)
	}
	s.open = nil
	s.imu.Unlock()
	var ferr error
	if flush {
		ferr = s.db.Flush()
	}
	cerr := s.db.Close()
	if leaked > 0 {
		return &state.OpenIteratorsError{Store: s.name, Count: leaked}
	}
	if ferr != nil {
		return fmt.Errorf("state: flush store %q on close: %w", s.name, ferr)
	}
	if cerr != nil {
		return fmt.Errorf("state: close store %q: %w", s.name, cerr)
	}
	return nil
}

// Destroy closes the store, without flushing, and deletes its files.
func (s *pebbleKV) Destroy() error {
	err := s.close(false)
	if rerr := os.RemoveAll(s.dir); rerr != nil && err == nil {
		err = rerr
	}
	return err
}

func (s *pebbleKV) get(key []byte) ([]byte, error) {
	v, closer, err := s.db.Get(key)
	if errors.Is(err, pebble.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	out := make([]byte, len(v))
	copy(out, v)
	closer.Close()
	return out, nil
}

func (s *pebbleKV) Get(key []byte) ([]byte, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return nil, state.ErrClosed
	}
	return s.get(key)
}

func (s *pebbleKV) put(key, value []byte) error {
	s.unflushed.Add(1)
	if value == nil {
		return s.db.Delete(key, pebble.NoSync)
	}
	return s.db.Set(key, value, pebble.NoSync)
}

func (s *pebbleKV) Put(key, value []byte) error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return state.ErrClosed
	}
	return s.put(key, value)
}

func (s *pebbleKV) PutIfAbsent(key, value []byte) ([]byte, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return nil, state.ErrClosed
	}
	s.wmu.Lock()
	defer s.wmu.Unlock()
	old, err := s.get(key)
	if err != nil || old != nil || value == nil {
		return old, err
	}
	return nil, s.put(key, value)
}

func (s *pebbleKV) PutAll(entries []state.KeyValue) error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return state.ErrClosed
	}
	b := s.db.NewBatch()
	defer b.Close()
	for _, e := range entries {
		var err error
		if e.Value == nil {
			err = b.Delete(e.Key, nil)
		} else {
			err = b.Set(e.Key, e.Value, nil)
		}
		if err != nil {
			return err
		}
	}
	s.unflushed.Add(int64(len(entries)))
	return b.Commit(pebble.NoSync)
}

func (s *pebbleKV) Delete(key []byte) ([]byte, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return nil, state.ErrClosed
	}
	s.wmu.Lock()
	defer s.wmu.Unlock()
	old, err := s.get(key)
	if err != nil || old == nil {
		return nil, err
	}
	return old, s.put(key, nil)
}

// ApproximateNumEntries counts the entries of the SSTables plus the writes
// since the last Flush: cheap, and off by overwrites and deletes.
func (s *pebbleKV) ApproximateNumEntries() (int64, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return 0, state.ErrClosed
	}
	levels, err := s.db.SSTables()
	if err != nil {
		return 0, err
	}
	var n uint64
	for _, l := range levels {
		for _, t := range l {
			n += t.TableStats.NumEntries
		}
	}
	return int64(n) + s.unflushed.Load(), nil
}

func (s *pebbleKV) Range(from, to []byte) (state.KeyValueIterator, error) {
	return s.rangeIter(from, to, false)
}

func (s *pebbleKV) ReverseRange(from, to []byte) (state.KeyValueIterator, error) {
	return s.rangeIter(from, to, true)
}

func (s *pebbleKV) rangeIter(from, to []byte, reverse bool) (state.KeyValueIterator, error) {
	if from != nil && to != nil && bytes.Compare(from, to) > 0 {
		s.mu.RLock()
		defer s.mu.RUnlock()
		if s.closed {
			return nil, state.ErrClosed
		}
		return enginekit.NewEmptyIter(&s.iters), nil
	}
	return s.Scan(from, to, true, reverse)
}

func (s *pebbleKV) PrefixScan(prefix []byte) (state.KeyValueIterator, error) {
	if len(prefix) == 0 {
		return s.Scan(nil, nil, false, false)
	}
	return s.Scan(prefix, enginekit.PrefixEnd(prefix), false, false)
}

func (s *pebbleKV) All() (state.KeyValueIterator, error) { return s.Scan(nil, nil, false, false) }
func (s *pebbleKV) ReverseAll() (state.KeyValueIterator, error) {
	return s.Scan(nil, nil, false, true)
}

// Scan iterates keys from lo (inclusive, nil = open) to hi (inclusive when
// hiIncl, else exclusive; nil = open), on a consistent view of the store.
func (s *pebbleKV) Scan(lo, hi []byte, hiIncl, reverse bool) (state.KeyValueIterator, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return nil, state.ErrClosed
	}
	o := &pebble.IterOptions{}
	if lo != nil {
		o.LowerBound = append([]byte(nil), lo...)
	}
	if hi != nil {
		if hiIncl {
			o.UpperBound = enginekit.InclusiveEnd(hi)
		} else {
			o.UpperBound = append([]byte(nil), hi...)
		}
	}
	pit, err := s.db.NewIter(o)
	if err != nil {
		return nil, err
	}
	it := &pebbleIter{s: s, it: pit, reverse: reverse}
	s.imu.Lock()
	s.open[it] = struct{}{}
	s.imu.Unlock()
	s.iters.Opened()
	return it, nil
}

type pebbleIter struct {
	s       *pebbleKV
	it      *pebble.Iterator
	reverse bool
	started bool
	err     error
	done    bool // released: closed, or its store closed
}

// release closes the Pebble iterator; called with the store's imu held.
func (it *pebbleIter) release(err error) {
	if it.done {
		return
	}
	it.done = true
	if cerr := it.it.Close(); cerr != nil && it.err == nil {
		it.err = cerr
	}
	if err != nil && it.err == nil {
		it.err = err
	}
}

func (it *pebbleIter) Next() bool {
	s := it.s
	s.mu.RLock()
	defer s.mu.RUnlock()
	if it.done {
		return false
	}
	var ok bool
	switch {
	case !it.started && it.reverse:
		ok = it.it.Last()
	case !it.started:
		ok = it.it.First()
	case it.reverse:
		ok = it.it.Prev()
	default:
		ok = it.it.Next()
	}
	it.started = true
	if !ok {
		if err := it.it.Error(); err != nil {
			it.err = err
		}
		return false
	}
	return true
}

func (it *pebbleIter) Key() []byte {
	if it.done || !it.it.Valid() {
		return nil
	}
	return it.it.Key()
}

func (it *pebbleIter) Value() []byte {
	if it.done || !it.it.Valid() {
		return nil
	}
	v, err := it.it.ValueAndErr()
	if err != nil {
		it.err = err
		return nil
	}
	if v == nil {
		return []byte{}
	}
	return v
}

func (it *pebbleIter) Err() error { return it.err }

func (it *pebbleIter) Close() error {
	s := it.s
	s.imu.Lock()
	defer s.imu.Unlock()
	if _, ok := s.open[it]; ok {
		delete(s.open, it)
		it.release(nil)
		s.iters.Closed()
	}
	return nil
}
