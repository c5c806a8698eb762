package runtime

// The Pebble engine is pure Go: the runtime always links it in, so that a
// store can be put on it (stream.MaterializedAs[K, V](name).WithEngine(state.Pebble)) in any build,
// including CGO_ENABLED=0 ones where RocksDB is missing.
import _ "github.com/kafki/kafki/state/pebble"
