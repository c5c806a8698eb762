package pebble

import (
	"flag"
	"testing"

	"github.com/kafki/kafki/state"
	"github.com/kafki/kafki/state/statetest"
)

var memory5m = flag.Bool("memory5m", false, "run TestMemory: 5,000,000 keys in a Pebble store must stay under 512 MiB resident (slow)")

// TestMemory runs statetest.MemoryContract on a Pebble store with the
// default settings. Opt-in: go test ./state/pebble -run TestMemory -memory5m -v
func TestMemory(t *testing.T) {
	if !*memory5m {
		t.Skip("opt-in: -memory5m")
	}
	statetest.MemoryContract(t, statetest.MemoryEngine{
		Name:     "pebble",
		Open:     func(dir string) (state.KeyValueStore, error) { return OpenKeyValueStore("mem", dir) },
		CacheMiB: func() uint64 { return uint64(DefaultConfig.blockCache().Size()) >> 20 },
	})
}
