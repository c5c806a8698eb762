package rocksdb

import (
	"testing"
	"time"

	"github.com/kafki/kafki/state"
	"github.com/kafki/kafki/state/statetest"
)

// testConfig keeps the test stores small.
var testConfig = func() *Config {
	c := NewConfig()
	c.BlockCacheSize = 8 << 20
	c.WriteBufferSize = 1 << 20
	return c
}()

var rocksKVEngine = statetest.KVEngine{
	Name:       "rocksdb",
	Persistent: true,
	Open: func(t testing.TB, dir string) state.KeyValueStore {
		s, err := OpenKeyValueStore("kv", dir+"/kv", WithConfig(testConfig))
		if err != nil {
			t.Fatal(err)
		}
		return s
	},
}

var rocksSegEngine = statetest.SegEngine{
	Name:       "rocksdb",
	Persistent: true,
	Window: func(t testing.TB, dir string, r, i time.Duration, dup bool) state.WindowStore {
		s, err := OpenWindowStore("w", dir, r, i, dup, WithConfig(testConfig))
		if err != nil {
			t.Fatal(err)
		}
		return s
	},
	Session: func(t testing.TB, dir string, r, i time.Duration) state.SessionStore {
		s, err := OpenSessionStore("s", dir, r, i, WithConfig(testConfig))
		if err != nil {
			t.Fatal(err)
		}
		return s
	},
}

func TestKeyValueContract(t *testing.T) {
	for _, e := range statetest.KVWithCaches(rocksKVEngine) {
		t.Run(e.Name, func(t *testing.T) { statetest.KeyValueContract(t, e) })
	}
}

func TestWindowStoreContract(t *testing.T) {
	for _, e := range statetest.WithCaches(rocksSegEngine) {
		t.Run(e.Name, func(t *testing.T) { statetest.WindowContract(t, e) })
	}
}

func TestSessionStoreContract(t *testing.T) {
	for _, e := range statetest.WithCaches(rocksSegEngine) {
		t.Run(e.Name, func(t *testing.T) { statetest.SessionContract(t, e) })
	}
}

// The registration makes state.Open open RocksDB specs.
func TestOpenSpec(t *testing.T) {
	for _, kind := range []state.Kind{state.KindKeyValue, state.KindWindow, state.KindSession} {
		spec := state.Spec{Name: "s", Kind: kind, Engine: state.RocksDB, Retention: time.Hour, WindowSize: time.Minute}
		st, err := state.Open(spec, t.TempDir()+"/s")
		if err != nil {
			t.Fatal(err)
		}
		if !st.Persistent() {
			t.Errorf("%v: not persistent", kind)
		}
		var ok bool
		switch kind {
		case state.KindKeyValue:
			_, ok = st.(state.KeyValueStore)
		case state.KindWindow:
			_, ok = st.(state.WindowStore)
		case state.KindSession:
			_, ok = st.(state.SessionStore)
		}
		if !ok {
			t.Errorf("%v: got %T", kind, st)
		}
		if err := st.Close(); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := state.Open(state.Spec{Name: "k", Engine: state.RocksDB}, ""); err == nil {
		t.Error("RocksDB store without a directory accepted")
	}
}
