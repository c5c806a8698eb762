package pebble

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
	c.MemTableSize = 1 << 20
	return c
}()

func kvEngine(name string, opts ...Option) statetest.KVEngine {
	opts = append([]Option{WithConfig(testConfig)}, opts...)
	return statetest.KVEngine{
		Name:       name,
		Persistent: true,
		Open: func(t testing.TB, dir string) state.KeyValueStore {
			s, err := OpenKeyValueStore("kv", dir+"/kv", opts...)
			if err != nil {
				t.Fatal(err)
			}
			return s
		},
	}
}

func segEngine(name string, opts ...Option) statetest.SegEngine {
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

func TestKeyValueContract(t *testing.T) {
	engines := append(statetest.KVWithCaches(kvEngine("pebble")),
		kvEngine("pebble-nowriteback", WithWriteBack(-1)),
		kvEngine("pebble-writeback300", WithWriteBack(300)))
	for _, e := range engines {
		t.Run(e.Name, func(t *testing.T) { statetest.KeyValueContract(t, e) })
	}
}

func segEngines() []statetest.SegEngine {
	return append(statetest.WithCaches(segEngine("pebble")),
		segEngine("pebble-nowriteback", WithWriteBack(-1)))
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

// The registration makes state.Open open Pebble specs.
func TestOpenSpec(t *testing.T) {
	for _, kind := range []state.Kind{state.KindKeyValue, state.KindWindow, state.KindSession} {
		spec := state.Spec{Name: "s", Kind: kind, Engine: state.Pebble, Retention: time.Hour, WindowSize: time.Minute}
		st, err := state.Open(spec, t.TempDir()+"/s")
		if err != nil {
			t.Fatal(err)
		}
		if !st.Persistent() {
			t.Errorf("%v: not persistent", kind)
		}
		if err := st.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
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
	for _, e := range []statetest.SegEngine{timeOrderedEngine("pebble"), timeOrderedEngine("pebble-nowriteback", WithWriteBack(-1))} {
		t.Run(e.Name, func(t *testing.T) { statetest.TimeOrderedSessionContract(t, e) })
	}
}
