package rocksdb

import (
	"encoding/binary"
	"math/rand"
	"os"
	"testing"
	"time"

	"github.com/linxGnu/grocksdb"

	"github.com/kafki/kafki/state"
)

// Benchmarks of the engines: per-operation costs of put, get and range for
// both engines, the record cache, window stores, and a plain grocksdb
// batched write of 1,000,000 keys (the baseline restoration is compared
// with).
//
//	go test -run '^$' -bench . -benchmem ./state/rocksdb/
//
// "rocksdb" is the engine as stores get it, behind its write-back buffer;
// "rocksdb-nowriteback" is the engine alone, whose per-call cost is held to
// the raw grocksdb calls of "raw-grocksdb".

const benchKeys = 100_000

func benchKey(buf []byte, i int) []byte {
	buf = append(buf[:0], "key-"...)
	return binary.BigEndian.AppendUint64(buf, uint64(i)*2654435761%(1<<40))
}

var benchValue = make([]byte, 100)

type benchEngine struct {
	name string
	open func(b *testing.B) state.KeyValueStore
}

func benchEngines() []benchEngine {
	return []benchEngine{
		{"memory", func(b *testing.B) state.KeyValueStore { return state.NewInMemoryKeyValueStore("bench") }},
		{"rocksdb", func(b *testing.B) state.KeyValueStore {
			s, err := OpenKeyValueStore("bench", b.TempDir())
			if err != nil {
				b.Fatal(err)
			}
			return s
		}},
		{"rocksdb-nowriteback", func(b *testing.B) state.KeyValueStore {
			s, err := OpenKeyValueStore("bench", b.TempDir(), WithWriteBack(-1))
			if err != nil {
				b.Fatal(err)
			}
			return s
		}},
		{"cache-memory", func(b *testing.B) state.KeyValueStore {
			return state.NewCachingKeyValueStore(state.NewInMemoryKeyValueStore("bench"), 32<<20)
		}},
		{"cache-rocksdb", func(b *testing.B) state.KeyValueStore {
			s, err := OpenKeyValueStore("bench", b.TempDir())
			if err != nil {
				b.Fatal(err)
			}
			return state.NewCachingKeyValueStore(s, 32<<20)
		}},
	}
}

func fillBench(b *testing.B, s state.KeyValueStore, n int) {
	batch := make([]state.KeyValue, 0, 1000)
	for i := 0; i < n; i++ {
		batch = append(batch, state.KeyValue{Key: benchKey(nil, i), Value: benchValue})
		if len(batch) == cap(batch) {
			if err := s.PutAll(batch); err != nil {
				b.Fatal(err)
			}
			batch = batch[:0]
		}
	}
	if err := s.PutAll(batch); err != nil {
		b.Fatal(err)
	}
	if err := s.Flush(); err != nil {
		b.Fatal(err)
	}
}

// openRaw opens a plain grocksdb database with the engine's default
// options (WAL off): the baseline of the engine's per-operation cost.
func openRaw(b *testing.B) (*grocksdb.DB, *grocksdb.WriteOptions, *grocksdb.ReadOptions) {
	opts := newRocksSettings(nil).options("raw")
	db, err := grocksdb.OpenDb(opts, b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	wo := grocksdb.NewDefaultWriteOptions()
	wo.DisableWAL(true)
	ro := grocksdb.NewDefaultReadOptions()
	b.Cleanup(func() {
		wo.Destroy()
		ro.Destroy()
		db.Close()
		opts.Destroy()
	})
	return db, wo, ro
}

// BenchmarkKeyValue measures put, get, range and batched writes on every
// engine and stack; "raw-grocksdb" is the same work through plain grocksdb
// calls on a database with the engine's options, the baseline the RocksDB
// engine is held to (within 1.2x).
func BenchmarkKeyValue(b *testing.B) {
	b.Run("raw-grocksdb/Put", func(b *testing.B) {
		db, wo, _ := openRaw(b)
		key := make([]byte, 0, 16)
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			key = benchKey(key, i%benchKeys)
			if err := db.Put(wo, key, benchValue); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("raw-grocksdb/Get", func(b *testing.B) {
		db, wo, ro := openRaw(b)
		wb := grocksdb.NewWriteBatch()
		defer wb.Destroy()
		for i := 0; i < benchKeys; i++ {
			wb.Put(benchKey(nil, i), benchValue)
			if wb.Count() == 1000 || i == benchKeys-1 {
				if err := db.Write(wo, wb); err != nil {
					b.Fatal(err)
				}
				wb.Clear()
			}
		}
		fo := grocksdb.NewDefaultFlushOptions()
		fo.SetWait(true)
		if err := db.Flush(fo); err != nil {
			b.Fatal(err)
		}
		fo.Destroy()
		key := make([]byte, 0, 16)
		rnd := rand.New(rand.NewSource(1))
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			key = benchKey(key, rnd.Intn(benchKeys))
			v, err := db.Get(ro, key)
			if err != nil || !v.Exists() {
				b.Fatal("missing", err)
			}
			v.Free()
		}
	})
	for _, e := range benchEngines() {
		b.Run(e.name+"/Put", func(b *testing.B) {
			s := e.open(b)
			defer s.Close()
			key := make([]byte, 0, 16)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				key = benchKey(key, i%benchKeys)
				if err := s.Put(key, benchValue); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(e.name+"/Get", func(b *testing.B) {
			s := e.open(b)
			defer s.Close()
			fillBench(b, s, benchKeys)
			key := make([]byte, 0, 16)
			rnd := rand.New(rand.NewSource(1))
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				key = benchKey(key, rnd.Intn(benchKeys))
				if v, err := s.Get(key); err != nil || v == nil {
					b.Fatal("missing", err)
				}
			}
		})
		b.Run(e.name+"/Range100", func(b *testing.B) {
			s := e.open(b)
			defer s.Close()
			fillBench(b, s, benchKeys)
			key := make([]byte, 0, 16)
			rnd := rand.New(rand.NewSource(1))
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				key = benchKey(key, rnd.Intn(benchKeys))
				it, err := s.Range(key, nil)
				if err != nil {
					b.Fatal(err)
				}
				for n := 0; n < 100 && it.Next(); n++ {
				}
				it.Close()
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/100, "ns/entry")
		})
		b.Run(e.name+"/PutAll1000", func(b *testing.B) {
			s := e.open(b)
			defer s.Close()
			batch := make([]state.KeyValue, 1000)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				for j := range batch {
					batch[j] = state.KeyValue{Key: benchKey(batch[j].Key, (i*1000+j)%benchKeys), Value: benchValue}
				}
				if err := s.PutAll(batch); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/1000, "ns/entry")
		})
	}
}

func BenchmarkWindow(b *testing.B) {
	engines := []struct {
		name string
		open func(b *testing.B) state.WindowStore
	}{
		{"memory", func(b *testing.B) state.WindowStore { return state.NewInMemoryWindowStore("w", time.Hour, 0, false) }},
		{"rocksdb", func(b *testing.B) state.WindowStore {
			s, err := OpenWindowStore("w", b.TempDir(), time.Hour, 0, false)
			if err != nil {
				b.Fatal(err)
			}
			return s
		}},
	}
	const keys = 10_000
	for _, e := range engines {
		b.Run(e.name+"/Put", func(b *testing.B) {
			s := e.open(b)
			defer s.Close()
			key := make([]byte, 0, 16)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				key = benchKey(key, i%keys)
				if err := s.Put(key, benchValue, int64(i/keys)*1000); err != nil {
					b.Fatal(err)
				}
			}
		})
		// Reads of windows not written yet, as a windowed aggregation makes
		// for each new window: 200,000 windows written since the last
		// commit (through the write-back buffer into RocksDB's memtable).
		b.Run(e.name+"/FetchAbsent", func(b *testing.B) {
			s := e.open(b)
			defer s.Close()
			key := make([]byte, 0, 16)
			for i := 0; i < 200_000; i++ {
				if err := s.Put(benchKey(key, i), benchValue, 0); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				v, err := s.Fetch(benchKey(key, 1_000_000+i%100_000), 0)
				if err != nil || v != nil {
					b.Fatal(v, err)
				}
			}
		})
		b.Run(e.name+"/FetchRange", func(b *testing.B) {
			s := e.open(b)
			defer s.Close()
			key := make([]byte, 0, 16)
			for t := int64(0); t < 20; t++ { // 20 windows of each key
				for i := 0; i < keys; i++ {
					key = benchKey(key, i)
					if err := s.Put(key, benchValue, t*60_000); err != nil {
						b.Fatal(err)
					}
				}
			}
			rnd := rand.New(rand.NewSource(1))
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				key = benchKey(key, rnd.Intn(keys))
				it, err := s.FetchRange(key, 5*60_000, 14*60_000)
				if err != nil {
					b.Fatal(err)
				}
				n := 0
				for it.Next() {
					n++
				}
				it.Close()
				if n != 10 {
					b.Fatalf("fetched %d windows", n)
				}
			}
		})
	}
}

// BenchmarkGrocksdbBatchWrite1M writes 1,000,000 keys (12-byte keys,
// 100-byte values) into a fresh database with plain grocksdb write batches
// of 10,000, WAL off, with this package's default options, and flushes: the
// floor for restoring a store. Keys come in ascending order ("sequential")
// or in a scrambled order ("random", as a changelog delivers them).
func BenchmarkGrocksdbBatchWrite1M(b *testing.B) {
	b.Run("sequential", func(b *testing.B) {
		benchGrocksdbBatchWrite(b, func(buf []byte, i int) []byte {
			return binary.BigEndian.AppendUint64(append(buf[:0], "key-"...), uint64(i))
		})
	})
	b.Run("random", func(b *testing.B) { benchGrocksdbBatchWrite(b, benchKey) })
}

func benchGrocksdbBatchWrite(b *testing.B, keyOf func([]byte, int) []byte) {
	const n, batchSize = 1_000_000, 10_000
	set := newRocksSettings(nil)
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		dir := b.TempDir()
		opts := set.options("bench")
		db, err := grocksdb.OpenDb(opts, dir)
		if err != nil {
			b.Fatal(err)
		}
		wo := grocksdb.NewDefaultWriteOptions()
		wo.DisableWAL(true)
		wb := grocksdb.NewWriteBatch()
		key := make([]byte, 0, 16)
		b.StartTimer()
		for k := 0; k < n; k++ {
			key = keyOf(key, k)
			wb.Put(key, benchValue)
			if wb.Count() == batchSize {
				if err := db.Write(wo, wb); err != nil {
					b.Fatal(err)
				}
				wb.Clear()
			}
		}
		if wb.Count() > 0 {
			if err := db.Write(wo, wb); err != nil {
				b.Fatal(err)
			}
		}
		fo := grocksdb.NewDefaultFlushOptions()
		fo.SetWait(true)
		if err := db.Flush(fo); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		fo.Destroy()
		wb.Destroy()
		wo.Destroy()
		db.Close()
		opts.Destroy()
		os.RemoveAll(dir)
		b.StartTimer()
	}
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "keys/s")
}
