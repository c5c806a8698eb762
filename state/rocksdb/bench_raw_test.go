package rocksdb

import (
	"math/rand"
	"testing"
	"time"

	"github.com/linxGnu/grocksdb"
)

// BenchmarkVsRaw holds the engine's per-call cost to plain grocksdb calls
// on the same keys in the same run: each iteration does the operation once
// on a raw grocksdb database and once on the engine (the write-back buffer
// off, so that each call reaches RocksDB), in alternating order, timing
// each call. On a loaded machine wall-clock ns/op of separate benchmarks
// drift apart; interleaved calls see the same load, so the "x-raw" metric
// (engine time / raw time) is the figure to read.
//
//	go test -run '^$' -bench VsRaw ./state/rocksdb/
func BenchmarkVsRaw(b *testing.B) {
	setup := func(b *testing.B, fill bool) (*grocksdb.DB, *grocksdb.WriteOptions, *grocksdb.ReadOptions, *rocksKV) {
		db, wo, ro := openRaw(b)
		kv, err := openRocksKV("bench", b.TempDir(), newRocksSettings(nil))
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { kv.Close() })
		if fill {
			wb := grocksdb.NewWriteBatch()
			defer wb.Destroy()
			for i := 0; i < benchKeys; i++ {
				k := benchKey(nil, i)
				wb.Put(k, benchValue)
				if err := kv.Put(k, benchValue); err != nil {
					b.Fatal(err)
				}
			}
			if err := db.Write(wo, wb); err != nil {
				b.Fatal(err)
			}
			fo := grocksdb.NewDefaultFlushOptions()
			fo.SetWait(true)
			defer fo.Destroy()
			if err := db.Flush(fo); err != nil {
				b.Fatal(err)
			}
			if err := kv.Flush(); err != nil {
				b.Fatal(err)
			}
		}
		return db, wo, ro, kv
	}
	report := func(b *testing.B, raw, eng time.Duration) {
		b.ReportMetric(float64(raw.Nanoseconds())/float64(b.N), "raw-ns/op")
		b.ReportMetric(float64(eng.Nanoseconds())/float64(b.N), "engine-ns/op")
		b.ReportMetric(float64(eng)/float64(raw), "x-raw")
	}
	b.Run("Put", func(b *testing.B) {
		db, wo, _, kv := setup(b, false)
		key := make([]byte, 0, 16)
		var raw, eng time.Duration
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			key = benchKey(key, i%benchKeys)
			for j := 0; j < 2; j++ {
				t0 := time.Now()
				if (i+j)%2 == 0 {
					if err := db.Put(wo, key, benchValue); err != nil {
						b.Fatal(err)
					}
					raw += time.Since(t0)
				} else {
					if err := kv.Put(key, benchValue); err != nil {
						b.Fatal(err)
					}
					eng += time.Since(t0)
				}
			}
		}
		report(b, raw, eng)
	})
	b.Run("Get", func(b *testing.B) {
		db, _, ro, kv := setup(b, true)
		key := make([]byte, 0, 16)
		rnd := rand.New(rand.NewSource(1))
		var raw, eng time.Duration
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			key = benchKey(key, rnd.Intn(benchKeys))
			for j := 0; j < 2; j++ {
				t0 := time.Now()
				if (i+j)%2 == 0 {
					v, err := db.Get(ro, key)
					if err != nil || !v.Exists() {
						b.Fatal("missing", err)
					}
					v.Free()
					raw += time.Since(t0)
				} else {
					if v, err := kv.Get(key); err != nil || v == nil {
						b.Fatal("missing", err)
					}
					eng += time.Since(t0)
				}
			}
		}
		report(b, raw, eng)
	})
}
