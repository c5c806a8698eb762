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

// rocksKVWith is the engine with extra options: the write-back buffer off,
// or so small that it is written all the time.
func rocksKVWith(name string, opts ...Option) statetest.KVEngine {
	return statetest.KVEngine{
		Name:       name,
		Persistent: true,
		Open: func(t testing.TB, dir string) state.KeyValueStore {
			s, err := OpenKeyValueStore("kv", dir+"/kv", append([]Option{WithConfig(testConfig)}, opts...)...)
			if err != nil {
				t.Fatal(err)
			}
			return s
		},
	}
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
	engines := append(statetest.KVWithCaches(rocksKVEngine),
		rocksKVWith("rocksdb-nowriteback", WithWriteBack(-1)),
		rocksKVWith("rocksdb-writeback300", WithWriteBack(300)))
	for _, e := range engines {
		t.Run(e.Name, func(t *testing.T) { statetest.KeyValueContract(t, e) })
	}
}

// rocksSegWith is the segmented engine with extra options.
func rocksSegWith(name string, opts ...Option) statetest.SegEngine {
	opts = append([]Option{WithConfig(testConfig)}, opts...)
	return statetest.SegEngine{
		Name:       name,
		Persistent: true,
		Window: func(t testing.TB, dir string, r, i time.Duration, dup bool) state.WindowStore {
			s, err := OpenWindowStore("w", dir, r, i, dup, opts...)
			if err != nil {
				t.Fatal(err)
			}
			return s
		},
		Session: func(t testing.TB, dir string, r, i time.Duration) state.SessionStore {
			s, err := OpenSessionStore("s", dir, r, i, opts...)
			if err != nil {
				t.Fatal(err)
			}
			return s
		},
	}
}

func segEngines() []statetest.SegEngine {
	return append(statetest.WithCaches(rocksSegEngine),
		rocksSegWith("rocksdb-writeback300", WithWriteBack(300)))
}

func TestWindowStoreContract(t *testing.T) {
	for _, e := range segEngines() {
		t.Run(e.Name, func(t *testing.T) { statetest.WindowContract(t, e) })
	}
}

func TestSessionStoreContract(t *testing.T) {
	for _, e := range segEngines() {
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

func timeOrderedEngine(name string, opts ...Option) statetest.SegEngine {
	opts = append([]Option{WithConfig(testConfig)}, opts...)
	return statetest.SegEngine{
		Name:       name,
		Persistent: true,
		Session: func(t testing.TB, dir string, r, i time.Duration) state.SessionStore {
			s, err := OpenTimeOrderedSessionStore("s", dir, r, i, opts...)
			if err != nil {
				t.Fatal(err)
			}
			return s
		},
	}
}

func TestTimeOrderedSessionStoreContract(t *testing.T) {
	for _, e := range []statetest.SegEngine{timeOrderedEngine("rocksdb"), timeOrderedEngine("rocksdb-writeback300", WithWriteBack(300))} {
		t.Run(e.Name, func(t *testing.T) { statetest.TimeOrderedSessionContract(t, e) })
	}
}
