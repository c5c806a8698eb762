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
	rdb, err := OpenKeyValueStore("kv", t.TempDir(), WithConfig(testConfig), WithWriteBack(-1))
	must(t, err)
	defer func() { must(t, rdb.Close()) }()
	must(t, rdb.Put(key, value))
	check("rocksdb Put", 0, func() { _ = rdb.Put(key, value) })
	check("rocksdb Get", 1, func() { _, _ = rdb.Get(key) })

	// Behind the write-back buffer: an overwrite copies the value, a read
	// of a buffered key copies nothing.
	wb, err := OpenKeyValueStore("kv", t.TempDir(), WithConfig(testConfig))
	must(t, err)
	defer func() { must(t, wb.Close()) }()
	must(t, wb.Put(key, value))
	check("write-back Put (overwrite)", 1, func() { _ = wb.Put(key, value) })
	check("write-back Get (buffered)", 0, func() { _, _ = wb.Get(key) })
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
