package stream_test

import "github.com/kafki/kafki/state"

// openStores opens every store in memory with the state package's
// engines, key-value, window and session alike, for the test driver.
func openStores(spec state.Spec) (state.Store, error) {
	spec.Engine = state.InMemory
	return state.Open(spec, "")
}
