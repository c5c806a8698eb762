// Package rocksdb is the RocksDB engine of Kafki's state stores (through
// grocksdb and the system's librocksdb; it needs cgo): key-value stores are
// one RocksDB database each, window and session stores one database per
// time segment.
//
// Importing the package registers the engine with package state
// (state.RegisterEngine), so that state.Open opens stores whose Spec says
// state.RocksDB. Package runtime imports it whenever cgo is on, so RocksDB
// is the default engine of an application, as in Kafka Streams; a program
// built with CGO_ENABLED=0 has no RocksDB and opens RocksDB specs with an
// error that matches state.ErrEngineUnavailable.
//
// Stores opened through the registration use DefaultConfig: change its
// fields (SetOptions is the escape hatch for any RocksDB option, as Kafka
// Streams' RocksDBConfigSetter) before the application starts. Stores
// share one block cache per Config (50 MiB by default, index and filter
// blocks included), have bounded write buffers (2 x 16 MiB per database)
// and bloom filters, and run without a write-ahead log: durability comes
// from the changelog, and Flush writes the memtables to disk so that a
// checkpoint written after it is true.
//
// The package may import state and its internal helpers, and grocksdb;
// nothing else of Kafki.
package rocksdb
