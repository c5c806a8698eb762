package changelog

// The tests open RocksDB and Pebble stores through state.Open.
import (
	_ "github.com/kafki/kafki/state/pebble"
	_ "github.com/kafki/kafki/state/rocksdb"
)
