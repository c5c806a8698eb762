package state

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"
)

// BenchmarkWindowCacheManyWindowsPerKey updates the newest window of a key
// that has thousands of cached windows (1 s windows, a day's retention):
// the window index must find it without walking the older ones.
func BenchmarkWindowCacheManyWindowsPerKey(b *testing.B) {
	c := NewCachingWindowStore(NewInMemoryWindowStore("w", 24*time.Hour, 0, false), 24*time.Hour, 64<<20)
	key, value := []byte("hot"), []byte("12345678")
	const windows = 5000
	for i := range int64(windows) {
		if err := c.Put(key, value, i*1000); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		start := int64(windows-1-i%2) * 1000
		if _, err := c.Fetch(key, start); err != nil {
			b.Fatal(err)
		}
		if err := c.Put(key, value, start); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkWindowCacheHopping is the dense hopping-window count's cache
// work: 10,000 keys in random order, one record per ms, each updating its
// six 60 s windows (read, then write a new slice), in a 10 MiB cache over
// an in-memory window store, with a flush listener. One op is one record.
func BenchmarkWindowCacheHopping(b *testing.B) {
	c := NewCachingWindowStore(NewInMemoryWindowStore("w", 70*time.Second, 0, false), 70*time.Second, 10<<20)
	var flushed int
	c.SetWindowFlushListener(func(key []byte, start int64, nv, ov []byte, ts int64) error {
		flushed++
		return nil
	})
	keys := make([][]byte, 10_000)
	for i := range keys {
		keys[i] = []byte(fmt.Sprintf("w%04d", i))
	}
	rng := rand.New(rand.NewPCG(1, 2))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		key, t := keys[rng.IntN(len(keys))], int64(i)
		for start := t - t%10_000 - 50_000; start <= t; start += 10_000 {
			if start < 0 {
				continue
			}
			old, err := c.Fetch(key, start)
			if err != nil {
				b.Fatal(err)
			}
			v := make([]byte, 16)
			if old != nil {
				copy(v, old)
			}
			v[15]++
			if err := c.PutOwned(key, v, start); err != nil {
				b.Fatal(err)
			}
		}
	}
}
