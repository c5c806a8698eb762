//go:build cgo

package runtime

// With cgo, the runtime links the RocksDB engine in (its package registers
// itself with package state), so that RocksDB is the default engine of
// every application, as in Kafka Streams. Without cgo, an application opens
// in-memory stores only: a RocksDB spec fails to open with an error naming
// the missing engine (state.ErrEngineUnavailable).
import _ "github.com/kafki/kafki/state/rocksdb"
