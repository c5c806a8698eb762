package rocksdb

import (
	"testing"
)

// The per-record paths allocate only the bytes they keep.
func TestPerRecordAllocations(t *testing.T) {
	if testing.Short() || raceEnabled {
		t.Skip("allocation counts are for normal builds")
	}
	key, value := []byte("some-key-0001"), make([]byte, 100)
	check := func(name string, want float64, fn func()) {
		t.Helper()
		if got := testing.AllocsPerRun(200, fn); got > want {
			t.Errorf("%s: %.1f allocations, want at most %.0f", name, got, want)
		}
	}
	rdb, err := OpenKeyValueStore("kv", t.TempDir(), WithConfig(testConfig))
	must(t, err)
	defer func() { must(t, rdb.Close()) }()
	must(t, rdb.Put(key, value))
	check("rocksdb Put", 0, func() { _ = rdb.Put(key, value) })
	check("rocksdb Get", 1, func() { _, _ = rdb.Get(key) })
	for i := 0; i < 100; i++ {
		must(t, rdb.Put(append([]byte("k"), byte(i)), value))
	}
	// An iterator costs a few allocations to open, none per entry.
	check("rocksdb scan of 100", 8, func() {
		it, _ := rdb.All()
		for it.Next() {
		}
		it.Close()
	})
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
