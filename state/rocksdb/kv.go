package rocksdb

// #include "rocksdb/c.h"
import "C"

import (
	"bytes"
	"fmt"
	"os"
	"sync"

	"github.com/linxGnu/grocksdb"

	"github.com/kafki/kafki/state"
	"github.com/kafki/kafki/state/internal/enginekit"
)

// rocksKV is the RocksDB key-value engine: one database in its own
// directory. The write-ahead log is off unless WithWAL(true): Flush writes
// the memtables to SST files, so a checkpoint written after Flush is true.
type rocksKV struct {
	name string
	dir  string

	// mu guards the database's lifetime: operations hold it for reading,
	// Close for writing.
	mu     sync.RWMutex
	closed bool
	db     *grocksdb.DB
	opts   *grocksdb.Options
	ro     *grocksdb.ReadOptions
	wo     *grocksdb.WriteOptions
	fo     *grocksdb.FlushOptions

	// wmu serialises the read-modify-write operations and the batch.
	wmu   sync.Mutex
	batch *grocksdb.WriteBatch

	iters enginekit.IterCount
	imu   sync.Mutex
	open  map[*rocksIter]struct{}

	// C handles of db, ro and wo, for the direct calls of rocksdb_cgo.go.
	cdb *C.rocksdb_t
	cro *C.rocksdb_readoptions_t
	cwo *C.rocksdb_writeoptions_t
}

// OpenKeyValueStore opens (creating when missing) a RocksDB key-value
// store in dir, the store's own directory.
func OpenKeyValueStore(name, dir string, opts ...Option) (state.KeyValueStore, error) {
	return openDB(name, dir, newRocksSettings(opts))
}

// openDB opens one database behind its write-back buffer.
func openDB(name, dir string, set *rocksSettings) (state.EngineStore, error) {
	s, err := openRocksKV(name, dir, set)
	if err != nil {
		return nil, err
	}
	if set.writeBack < 0 {
		return s, nil
	}
	return state.NewWriteBackStore(s, set.writeBack), nil
}

func leakErr(name string, n int) error {
	if n == 0 {
		return nil
	}
	return &state.OpenIteratorsError{Store: name, Count: n}
}

func openRocksKV(name, dir string, set *rocksSettings) (*rocksKV, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("state: store %q: %w", name, err)
	}
	opts := set.options(name)
	db, err := grocksdb.OpenDb(opts, dir)
	if err != nil {
		opts.Destroy()
		return nil, fmt.Errorf("state: open RocksDB store %q in %s: %w", name, dir, err)
	}
	wo := grocksdb.NewDefaultWriteOptions()
	wo.DisableWAL(!set.wal)
	fo := grocksdb.NewDefaultFlushOptions()
	fo.SetWait(true)
	ro := grocksdb.NewDefaultReadOptions()
	return &rocksKV{
		name:  name,
		dir:   dir,
		db:    db,
		opts:  opts,
		ro:    ro,
		wo:    wo,
		fo:    fo,
		batch: grocksdb.NewWriteBatch(),
		open:  map[*rocksIter]struct{}{},
		cdb:   cDB(db),
		cro:   cReadOptions(ro),
		cwo:   cWriteOptions(wo),
	}, nil
}

func (s *rocksKV) Name() string       { return s.name }
func (s *rocksKV) Persistent() bool   { return true }
func (s *rocksKV) OpenIterators() int { return s.iters.OpenIterators() }

// Dir is the directory the database lives in.
func (s *rocksKV) Dir() string { return s.dir }

func (s *rocksKV) Flush() error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return state.ErrClosed
	}
	return s.db.Flush(s.fo)
}

// Close flushes the memtables and closes the database. Iterators still open
// are closed too, and reported in the error.
func (s *rocksKV) Close() error { return s.close(true) }

func (s *rocksKV) close(flush bool) error {
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
		ferr = s.db.Flush(s.fo)
	}
	s.db.Close()
	s.opts.Destroy()
	s.ro.Destroy()
	s.wo.Destroy()
	s.fo.Destroy()
	s.batch.Destroy()
	if err := leakErr(s.name, leaked); err != nil {
		return err
	}
	if ferr != nil {
		return fmt.Errorf("state: flush store %q on close: %w", s.name, ferr)
	}
	return nil
}

// destroy closes the store, without flushing, and deletes its files.
func (s *rocksKV) Destroy() error {
	err := s.close(false)
	if rerr := os.RemoveAll(s.dir); rerr != nil && err == nil {
		err = rerr
	}
	return err
}

// get copies the value into Go memory and frees RocksDB's (one allocation).
func (s *rocksKV) get(key []byte) ([]byte, error) {
	return dbGet(s.cdb, s.cro, key)
}

func (s *rocksKV) Get(key []byte) ([]byte, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return nil, state.ErrClosed
	}
	return s.get(key)
}

func (s *rocksKV) Put(key, value []byte) error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return state.ErrClosed
	}
	if value == nil {
		return dbDelete(s.cdb, s.cwo, key)
	}
	return dbPut(s.cdb, s.cwo, key, value)
}

func (s *rocksKV) PutIfAbsent(key, value []byte) ([]byte, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return nil, state.ErrClosed
	}
	s.wmu.Lock()
	defer s.wmu.Unlock()
	old, err := s.get(key)
	if err != nil || old != nil {
		return old, err
	}
	if value == nil {
		return nil, nil
	}
	return nil, dbPut(s.cdb, s.cwo, key, value)
}

func (s *rocksKV) PutAll(entries []state.KeyValue) error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return state.ErrClosed
	}
	s.wmu.Lock()
	defer s.wmu.Unlock()
	s.batch.Clear()
	for _, e := range entries {
		if e.Value == nil {
			s.batch.Delete(e.Key)
		} else {
			s.batch.Put(e.Key, e.Value)
		}
	}
	err := s.db.Write(s.wo, s.batch)
	s.batch.Clear()
	return err
}

func (s *rocksKV) Delete(key []byte) ([]byte, error) {
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
	return old, dbDelete(s.cdb, s.cwo, key)
}

func (s *rocksKV) ApproximateNumEntries() (int64, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return 0, state.ErrClosed
	}
	n, _ := s.db.GetIntProperty("rocksdb.estimate-num-keys")
	return int64(n), nil
}

func (s *rocksKV) Range(from, to []byte) (state.KeyValueIterator, error) {
	return s.rangeIter(from, to, false)
}

func (s *rocksKV) ReverseRange(from, to []byte) (state.KeyValueIterator, error) {
	return s.rangeIter(from, to, true)
}

func (s *rocksKV) rangeIter(from, to []byte, reverse bool) (state.KeyValueIterator, error) {
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

func (s *rocksKV) PrefixScan(prefix []byte) (state.KeyValueIterator, error) {
	if len(prefix) == 0 {
		return s.Scan(nil, nil, false, false)
	}
	return s.Scan(prefix, enginekit.PrefixEnd(prefix), false, false)
}

func (s *rocksKV) All() (state.KeyValueIterator, error)        { return s.Scan(nil, nil, false, false) }
func (s *rocksKV) ReverseAll() (state.KeyValueIterator, error) { return s.Scan(nil, nil, false, true) }

// scan iterates keys from lo (inclusive, nil = open) to hi (inclusive when
// hiIncl, else exclusive; nil = open). It reads a consistent snapshot.
func (s *rocksKV) Scan(lo, hi []byte, hiIncl, reverse bool) (state.KeyValueIterator, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.closed {
		return nil, state.ErrClosed
	}
	ro := grocksdb.NewDefaultReadOptions()
	if lo != nil {
		ro.SetIterateLowerBound(append([]byte(nil), lo...))
	}
	if hi != nil {
		if hiIncl {
			hi = enginekit.InclusiveEnd(hi)
		} else {
			hi = append([]byte(nil), hi...)
		}
		ro.SetIterateUpperBound(hi)
	}
	git := s.db.NewIterator(ro)
	it := &rocksIter{s: s, ro: ro, it: git, cit: cIterator(git), reverse: reverse}
	s.imu.Lock()
	s.open[it] = struct{}{}
	s.imu.Unlock()
	s.iters.Opened()
	return it, nil
}

type rocksIter struct {
	s       *rocksKV
	ro      *grocksdb.ReadOptions
	it      *grocksdb.Iterator
	cit     *C.rocksdb_iterator_t
	reverse bool
	started bool
	key     []byte
	value   []byte
	err     error
	done    bool // released: closed, or its store closed
}

// release frees the C iterator; called with the store's imu held.
func (it *rocksIter) release(err error) {
	if it.done {
		return
	}
	it.done = true
	if err != nil && it.err == nil {
		it.err = err
	}
	it.it.Close()
	it.ro.Destroy()
	it.key, it.value = nil, nil
}

func (it *rocksIter) Next() bool {
	s := it.s
	s.mu.RLock()
	defer s.mu.RUnlock()
	if it.done { // closed, or its store closed
		return false
	}
	op := iterNext
	switch {
	case !it.started && it.reverse:
		op = iterLast
	case !it.started:
		op = iterFirst
	case it.reverse:
		op = iterPrev
	}
	it.started = true
	var ok bool
	if it.key, it.value, ok = iterStep(it.cit, op); !ok {
		if err := it.it.Err(); err != nil {
			it.err = err
		}
		return false
	}
	return true
}

func (it *rocksIter) Key() []byte   { return it.key }
func (it *rocksIter) Value() []byte { return it.value }
func (it *rocksIter) Err() error    { return it.err }

func (it *rocksIter) Close() error {
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
