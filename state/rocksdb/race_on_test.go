//go:build race

package rocksdb

const raceEnabled = true
