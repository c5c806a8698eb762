package state

import (
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
