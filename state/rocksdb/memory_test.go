package rocksdb

import (
	"flag"
	"testing"

	"github.com/kafki/kafki/state"
	"github.com/kafki/kafki/state/statetest"
)

var memory5m = flag.Bool("memory5m", false, "run TestMemory: 5,000,000 keys in a RocksDB store must stay under 512 MiB resident (slow)")

// TestMemory runs statetest.MemoryContract on a RocksDB store with the
// default settings. Opt-in: go test ./state/rocksdb -run TestMemory -memory5m -v
func TestMemory(t *testing.T) {
	if !*memory5m {
		t.Skip("opt-in: -memory5m")
	}
	statetest.MemoryContract(t, statetest.MemoryEngine{
		Name:     "rocksdb",
		Open:     func(dir string) (state.KeyValueStore, error) { return OpenKeyValueStore("mem", dir) },
		CacheMiB: func() uint64 { return DefaultConfig.BlockCacheUsage() >> 20 },
	})
}
