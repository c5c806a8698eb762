package changelog

// The tests open RocksDB stores through state.Open.
import _ "github.com/kafki/kafki/state/rocksdb"
