package state

import (
	"fmt"
	"testing"
)

func init() {
	extraKVEngines = append(extraKVEngines, kvEngine{
		name:       "rocksdb",
		persistent: true,
		open: func(t testing.TB) KeyValueStore {
			s, err := OpenRocksDBKeyValueStore("kv", t.TempDir()+"/kv", WithRocksDBConfig(testRocksConfig))
			if err != nil {
				t.Fatal(err)
			}
			return s
		},
		reopen: func(t testing.TB, s KeyValueStore) KeyValueStore {
			dir := s.(*rocksKV).Dir()
			must(t, s.Close())
			s2, err := OpenRocksDBKeyValueStore("kv", dir, WithRocksDBConfig(testRocksConfig))
			must(t, err)
			return s2
		},
	})
}

// testRocksConfig keeps the test stores small.
var testRocksConfig = func() *RocksDBConfig {
	c := NewRocksDBConfig()
	c.BlockCacheSize = 8 << 20
	c.WriteBufferSize = 1 << 20
	return c
}()

func init() {
	// The record cache in front of each engine, large enough to hold
	// everything, small enough to evict all the time, and of size 0.
	for _, size := range []int64{1 << 20, 600, 0} {
		size := size
		extraKVEngines = append(extraKVEngines,
			kvEngine{
				name: fmt.Sprintf("cache%d-memory", size),
				open: func(t testing.TB) KeyValueStore {
					return NewCachingKeyValueStore(NewInMemoryKeyValueStore("kv"), size)
				},
			},
			kvEngine{
				name:       fmt.Sprintf("cache%d-rocksdb", size),
				persistent: true,
				open: func(t testing.TB) KeyValueStore {
					s, err := OpenRocksDBKeyValueStore("kv", t.TempDir()+"/kv", WithRocksDBConfig(testRocksConfig))
					must(t, err)
					return NewCachingKeyValueStore(s, size)
				},
				reopen: func(t testing.TB, s KeyValueStore) KeyValueStore {
					dir := s.(*CachingKeyValueStore).Inner().(*rocksKV).Dir()
					must(t, s.Close())
					s2, err := OpenRocksDBKeyValueStore("kv", dir, WithRocksDBConfig(testRocksConfig))
					must(t, err)
					return NewCachingKeyValueStore(s2, size)
				},
			})
	}
}
