package state

import (
	"errors"
	"testing"
	"time"
)

// The per-record paths allocate only the bytes they keep.
func TestPerRecordAllocations(t *testing.T) {
	if testing.Short() || raceEnabled {
		t.Skip("allocation counts are for normal builds")
	}
	key, value := b("some-key-0001"), make([]byte, 100)

	mem := NewInMemoryKeyValueStore("kv")
	checkClosed(t, mem)
	must(t, mem.Put(key, value))
	check := func(name string, want float64, fn func()) {
		t.Helper()
		if got := testing.AllocsPerRun(200, fn); got > want {
			t.Errorf("%s: %.1f allocations, want at most %.0f", name, got, want)
		}
	}
	check("memory Get", 0, func() { _, _ = mem.Get(key) })
	check("memory Put (overwrite)", 1, func() { _ = mem.Put(key, value) })

	cache := NewCachingKeyValueStore(NewInMemoryKeyValueStore("kv"), 1<<20)
	checkClosed(t, cache)
	must(t, cache.Put(key, value))
	check("cache Get (hit)", 0, func() { _, _ = cache.Get(key) })
	check("cache Put (overwrite)", 1, func() { _ = cache.Put(key, value) })

}

func TestOpenSpec(t *testing.T) {
	for _, engine := range []Engine{InMemory} {
		for _, kind := range []Kind{KindKeyValue, KindWindow, KindSession} {
			spec := Spec{Name: "s", Kind: kind, Engine: engine, Retention: time.Hour, WindowSize: time.Minute}
			st, err := Open(spec, t.TempDir()+"/s")
			must(t, err)
			if st.Persistent() {
				t.Errorf("%v/%v: persistent %v", engine, kind, st.Persistent())
			}
			var ok bool
			switch kind {
			case KindKeyValue:
				_, ok = st.(KeyValueStore)
			case KindWindow:
				_, ok = st.(WindowStore)
			case KindSession:
				_, ok = st.(SessionStore)
			}
			if !ok {
				t.Errorf("%v/%v: got %T", engine, kind, st)
			}
			must(t, st.Close())
		}
	}
	if _, err := Open(Spec{Name: "w", Kind: KindWindow, Engine: InMemory, Retention: time.Second, WindowSize: time.Minute}, ""); err == nil {
		t.Error("retention shorter than the window size accepted")
	}
	if _, err := Open(Spec{Name: "k", Engine: Engine(42)}, t.TempDir()); !errors.Is(err, ErrEngineUnavailable) {
		t.Errorf("unknown engine: %v", err)
	}
}
