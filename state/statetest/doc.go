// Package statetest holds the contract suites every state store engine and
// every store stack (engine, record cache) must pass: KeyValueContract,
// WindowContract and SessionContract. Engine packages (state, state/rocksdb,
// state/pebble) run them from their tests on their own stores, so that one
// suite defines what a store does whatever is behind it.
//
// It may import state and the standard library's testing; it is for tests
// only.
package statetest

import "math"

const (
	minTime = math.MinInt64
	maxTime = math.MaxInt64
)
