package state

import (
	"fmt"
	"testing"
	"time"
)

// countingWindowStore counts the reads of a window store; it does not say
// what the store retains.
type countingWindowStore struct {
	WindowStore
	fetches int
}

func (c *countingWindowStore) Fetch(k []byte, start int64) ([]byte, error) {
	c.fetches++
	return c.WindowStore.Fetch(k, start)
}

// boundedCountingWindowStore also says what it retains, as the segmented
// stores do.
type boundedCountingWindowStore struct{ countingWindowStore }

func (c *boundedCountingWindowStore) minLive() int64 {
	return c.WindowStore.(liveBounded).minLive()
}

func windowRecorder(got *[]string) WindowFlushListener {
	str := func(b []byte) string {
		if b == nil {
			return "<nil>"
		}
		return string(b)
	}
	return func(k []byte, start int64, nv, ov []byte, ts int64) error {
		*got = append(*got, fmt.Sprintf("%s@%d %s<-%s", k, start, str(nv), str(ov)))
		return nil
	}
}

// A window cache remembers what it wrote below (or read from below) and
// passes it as the old value of the next write without reading the store
// again, as long as the store still retains the window. Once the window
// has expired below (here: the store's stream time moved on without the
// cache, as after a restoration), the store holds nothing for it, and the
// old value is nil, read from the store, not the value the cache wrote.
func TestWindowCacheOldValueWithoutRead(t *testing.T) {
	inner := &boundedCountingWindowStore{countingWindowStore{WindowStore: NewInMemoryWindowStore("w", time.Hour, 0, false)}}
	c := NewCachingWindowStore(inner, time.Hour, 1<<20)
	checkClosed(t, c)
	var got []string
	c.SetWindowFlushListener(windowRecorder(&got))
	flushReads := func(want int) {
		t.Helper()
		n := inner.fetches
		must(t, c.Flush())
		if n := inner.fetches - n; n != want {
			t.Errorf("flush read %d old values below, want %d", n, want)
		}
	}
	must(t, inner.Put(b("r"), b("r0"), 0)) // there before the cache
	must(t, c.Put(b("k"), b("1"), 0))      // written without a read
	flushReads(1)
	must(t, c.Put(b("k"), b("2"), 0))
	if v, err := c.Fetch(b("r"), 0); err != nil || string(v) != "r0" {
		t.Fatalf("fetch r: %q, %v", v, err)
	}
	must(t, c.Put(b("r"), b("r1"), 0))
	if v, err := c.Fetch(b("m"), 0); err != nil || v != nil {
		t.Fatalf("fetch m: %q, %v", v, err)
	}
	must(t, c.Put(b("m"), b("m1"), 0))
	flushReads(0)
	must(t, c.Put(b("k"), b("3"), 0))
	flushReads(0)
	// The store alone sees a later window: window 0 expires below.
	must(t, inner.WindowStore.Put(b("z"), b("z"), 2*time.Hour.Milliseconds()))
	must(t, c.Put(b("k"), b("4"), 0))
	flushReads(1)
	eq(t, got, []string{"k@0 1<-<nil>", "k@0 2<-1", "r@0 r1<-r0", "m@0 m1<-<nil>", "k@0 3<-2", "k@0 4<-<nil>"})
}

// Under a store that does not say what it retains, the cache reads the old
// value of every write below unless it knows the store holds nothing.
func TestWindowCacheOldValueReadWhenRetentionUnknown(t *testing.T) {
	inner := &countingWindowStore{WindowStore: NewInMemoryWindowStore("w", time.Hour, 0, false)}
	c := NewCachingWindowStore(inner, time.Hour, 1<<20)
	checkClosed(t, c)
	var got []string
	c.SetWindowFlushListener(windowRecorder(&got))
	must(t, c.Put(b("k"), b("1"), 0))
	must(t, c.Flush())
	must(t, c.Put(b("k"), b("2"), 0))
	if v, err := c.Fetch(b("m"), 0); err != nil || v != nil {
		t.Fatalf("fetch m: %q, %v", v, err)
	}
	must(t, c.Put(b("m"), b("m1"), 0))
	n := inner.fetches
	must(t, c.Flush())
	if n := inner.fetches - n; n != 1 {
		t.Errorf("flush read %d old values below, want 1 (k's)", n)
	}
	eq(t, got, []string{"k@0 1<-<nil>", "k@0 2<-1", "m@0 m1<-<nil>"})
}

// The window cache's per-key index follows the record cache as entries
// come and go (evictions of a small cache, flushes, reads through): after
// any sequence of reads and writes, every read sees the latest write and
// the store below ends up with every window's latest value.
func TestWindowCacheIndexFollowsEvictions(t *testing.T) {
	inner := NewInMemoryWindowStore("w", 0, 0, false)
	c := NewCachingWindowStore(inner, 0, 2_000) // about a dozen entries
	checkClosed(t, c)
	forwarded := map[string]string{}
	c.SetWindowFlushListener(func(k []byte, start int64, nv, ov []byte, _ int64) error {
		forwarded[fmt.Sprintf("%s@%d", k, start)] = string(nv)
		return nil
	})
	want := map[string]string{}
	rnd := uint64(1)
	next := func(n uint64) uint64 { // xorshift: deterministic
		rnd ^= rnd << 13
		rnd ^= rnd >> 7
		rnd ^= rnd << 17
		return rnd % n
	}
	for i := range 20_000 {
		key := b(fmt.Sprintf("k%d", next(9)))
		start := int64(next(7)) * 10
		id := fmt.Sprintf("%s@%d", key, start)
		v, err := c.Fetch(key, start)
		must(t, err)
		if string(v) != want[id] {
			t.Fatalf("op %d: fetch %s = %q, want %q", i, id, v, want[id])
		}
		if next(4) == 0 {
			continue
		}
		nv := fmt.Sprint(i)
		must(t, c.Put(key, b(nv), start))
		want[id] = nv
		if next(500) == 0 {
			must(t, c.Flush())
		}
	}
	must(t, c.Flush())
	for id, v := range want {
		var k string
		var start int64
		fmt.Sscanf(id, "%2s@%d", &k, &start)
		got, err := inner.Fetch(b(k), start)
		must(t, err)
		if string(got) != v || forwarded[id] != v {
			t.Errorf("%s: store below has %q, forwarded %q, want %q", id, got, forwarded[id], v)
		}
	}
	if _, n, _, _ := c.CacheStats(); n != countWindows(c.idx) {
		t.Errorf("cache holds %d entries, its window index %d", n, countWindows(c.idx))
	}
}

func countWindows(x *windowIndex) int {
	n := 0
	for _, k := range x.byKey {
		n += len(k.wins)
	}
	return n
}

// A window cache's hit reads nothing but its indexes, and a value handed
// over with PutOwned is kept, not copied.
func TestWindowCacheAllocations(t *testing.T) {
	if testing.Short() || raceEnabled {
		t.Skip("allocation counts are for normal builds")
	}
	c := NewCachingWindowStore(NewInMemoryWindowStore("w", time.Hour, 0, false), time.Hour, 1<<20)
	checkClosed(t, c)
	key, value := b("some-key"), make([]byte, 16)
	for start := int64(0); start < 60_000; start += 10_000 {
		must(t, c.Put(key, value, start))
	}
	check := func(name string, want float64, fn func()) {
		t.Helper()
		if got := testing.AllocsPerRun(200, fn); got > want {
			t.Errorf("%s: %.1f allocations, want at most %.0f", name, got, want)
		}
	}
	check("Fetch (hit)", 0, func() { _, _ = c.Fetch(key, 30_000) })
	check("Put (overwrite)", 1, func() { _ = c.Put(key, value, 30_000) })
	check("PutOwned (overwrite)", 0, func() { _ = c.PutOwned(key, value, 30_000) })
}
