package state_test

import (
	"testing"
	"time"

	"github.com/kafki/kafki/state"
	"github.com/kafki/kafki/state/statetest"
)

// The contract suites on the in-memory engine, bare and behind the record
// cache. The persistent engines run them from their own packages.

var memKV = statetest.KVEngine{
	Name: "memory",
	Open: func(t testing.TB, dir string) state.KeyValueStore { return state.NewInMemoryKeyValueStore("kv") },
}

var memSeg = statetest.SegEngine{
	Name: "memory",
	Window: func(t testing.TB, dir string, r, i time.Duration, dup bool) state.WindowStore {
		return state.NewInMemoryWindowStore("w", r, i, dup)
	},
	Session: func(t testing.TB, dir string, r, i time.Duration) state.SessionStore {
		return state.NewInMemorySessionStore("s", r, i)
	},
}

// The write-back buffer on the in-memory engine, written all the time.
var writeBackKV = statetest.KVEngine{
	Name: "writeback300-memory",
	Open: func(t testing.TB, dir string) state.KeyValueStore {
		return state.NewWriteBackStore(state.NewInMemoryKeyValueStore("kv").(state.EngineStore), 300)
	},
}

func TestKeyValueContract(t *testing.T) {
	for _, e := range append(statetest.KVWithCaches(memKV), writeBackKV) {
		t.Run(e.Name, func(t *testing.T) { statetest.KeyValueContract(t, e) })
	}
}

func TestWindowStoreContract(t *testing.T) {
	for _, e := range statetest.WithCaches(memSeg) {
		t.Run(e.Name, func(t *testing.T) { statetest.WindowContract(t, e) })
	}
}

func TestSessionStoreContract(t *testing.T) {
	for _, e := range statetest.WithCaches(memSeg) {
		t.Run(e.Name, func(t *testing.T) { statetest.SessionContract(t, e) })
	}
}

func TestTimeOrderedSessionStoreContract(t *testing.T) {
	statetest.TimeOrderedSessionContract(t, statetest.SegEngine{
		Name: "memory-time-ordered",
		Session: func(t testing.TB, dir string, r, i time.Duration) state.SessionStore {
			return state.NewInMemoryTimeOrderedSessionStore("s", r, i)
		},
	})
}
