package state

import (
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
