package state

import (
	"fmt"
	"sync"
	"testing"
	"time"
)

type countingKV struct {
	KeyValueStore
	gets, putAlls, puts int
}

func (c *countingKV) Get(k []byte) ([]byte, error) { c.gets++; return c.KeyValueStore.Get(k) }
func (c *countingKV) Put(k, v []byte) error        { c.puts++; return c.KeyValueStore.Put(k, v) }
func (c *countingKV) PutAll(e []KeyValue) error {
	c.putAlls++
	return c.KeyValueStore.PutAll(e)
}

type flushRec struct {
	key, newV, oldV string
	ts              int64
}

func recorder(out *[]flushRec) FlushListener {
	str := func(b []byte) string {
		if b == nil {
			return "<nil>"
		}
		return string(b)
	}
	return func(k, nv, ov []byte, ts int64) error {
		*out = append(*out, flushRec{string(k), str(nv), str(ov), ts})
		return nil
	}
}

func newTestCache(t *testing.T, size int64) (*CachingKeyValueStore, *countingKV, *[]flushRec) {
	inner := &countingKV{KeyValueStore: NewInMemoryKeyValueStore("kv")}
	c := NewCachingKeyValueStore(inner, size)
	var recs []flushRec
	c.SetFlushListener(recorder(&recs))
	checkClosed(t, c)
	return c, inner, &recs
}

func TestCacheAbsorbsUpdates(t *testing.T) {
	c, inner, recs := newTestCache(t, 1<<20)
	for i := 1; i <= 3; i++ {
		must(t, c.PutWithTimestamp(b("k"), b(fmt.Sprint(i)), int64(i*10)))
	}
	must(t, c.Put(b("j"), b("x")))
	if len(*recs) != 0 || inner.putAlls != 0 || inner.puts != 0 {
		t.Fatalf("forwarded before flush: %v", *recs)
	}
	getEq(t, c, "k", "3")
	if inner.gets != 0 {
		t.Fatalf("read went below the cache")
	}
	must(t, c.Flush())
	want := []flushRec{{"k", "3", "<nil>", 30}, {"j", "x", "<nil>", 0}}
	if fmt.Sprint(*recs) != fmt.Sprint(want) {
		t.Fatalf("flushed %v, want %v", *recs, want)
	}
	if inner.putAlls != 1 {
		t.Fatalf("flush wrote in %d batches", inner.putAlls)
	}
	getEq(t, inner.KeyValueStore, "k", "3")
	// The next flush forwards the old value; a clean cache flushes nothing.
	*recs = nil
	must(t, c.Flush())
	must(t, c.PutWithTimestamp(b("k"), b("4"), 40))
	must(t, c.PutWithTimestamp(b("k"), nil, 41))
	must(t, c.PutWithTimestamp(b("gone"), b("1"), 42))
	_, err := c.Delete(b("gone")) // never reached the store
	must(t, err)
	must(t, c.Flush())
	want = []flushRec{{"k", "<nil>", "3", 41}}
	if fmt.Sprint(*recs) != fmt.Sprint(want) {
		t.Fatalf("flushed %v, want %v", *recs, want)
	}
	if v, _ := inner.KeyValueStore.Get(b("k")); v != nil {
		t.Fatalf("delete not written below")
	}
}

func TestCacheFlushOrderIsLastUpdate(t *testing.T) {
	c, _, recs := newTestCache(t, 1<<20)
	for _, k := range []string{"a", "b", "c", "a"} {
		must(t, c.Put(b(k), b(k)))
	}
	must(t, c.Flush())
	var keys []string
	for _, r := range *recs {
		keys = append(keys, r.key)
	}
	eq(t, keys, []string{"b", "c", "a"})
}

// Evicting a dirty entry flushes every dirty entry, as Kafka Streams'
// NamedCache.evict does: the evicted one first, then the others in the
// order of their last update, in one batch below; clean entries are
// evicted without forwarding anything.
func TestCacheEviction(t *testing.T) {
	c, inner, recs := newTestCache(t, 3*(cacheEntryOverhead+4))
	c.SetTimestampSource(func() int64 { return 7 })
	for i := 0; i < 10; i++ {
		must(t, c.Put(b(fmt.Sprintf("k%d", i)), b("v")))
		must(t, c.Put(b("k0"), b(fmt.Sprintf("u%d", i)))) // k0 stays recent
	}
	size, entries, _, _ := c.CacheStats()
	if size > 3*(cacheEntryOverhead+4) || entries > 3 {
		t.Fatalf("cache holds %d bytes in %d entries", size, entries)
	}
	// Worked out from Kafka Streams' NamedCache and ThreadCache.maybeEvict:
	// k1, k4 and k7 are evicted dirty (each flushes the cache), k2, k3, k5
	// and k6 clean.
	want := []flushRec{
		{"k1", "v", "<nil>", 7}, {"k2", "v", "<nil>", 7}, {"k0", "u2", "<nil>", 7}, {"k3", "v", "<nil>", 7},
		{"k4", "v", "<nil>", 7}, {"k5", "v", "<nil>", 7}, {"k0", "u5", "u2", 7}, {"k6", "v", "<nil>", 7},
		{"k7", "v", "<nil>", 7}, {"k8", "v", "<nil>", 7}, {"k0", "u8", "u5", 7}, {"k9", "v", "<nil>", 7},
	}
	if fmt.Sprint(*recs) != fmt.Sprint(want) {
		t.Fatalf("evictions forwarded\n%v, want\n%v", *recs, want)
	}
	if inner.putAlls != 3 || inner.puts != 0 {
		t.Fatalf("evictions wrote in %d batches and %d single puts, want 3 batches", inner.putAlls, inner.puts)
	}
	must(t, c.Flush())
	want = append(want, flushRec{"k0", "u9", "u8", 7})
	if fmt.Sprint(*recs) != fmt.Sprint(want) {
		t.Fatalf("flush forwarded\n%v, want\n%v", *recs, want)
	}
	getEq(t, inner.KeyValueStore, "k0", "u9")
	getEq(t, c, "k1", "v") // evicted: read from below
}

func TestCacheRangeMergesStore(t *testing.T) {
	c, inner, _ := newTestCache(t, 1<<20)
	for _, k := range []string{"a", "b", "c", "e"} {
		must(t, inner.KeyValueStore.Put(b(k), b("old")))
	}
	must(t, c.Put(b("b"), b("new")))
	_, err := c.Delete(b("c"))
	must(t, err)
	must(t, c.Put(b("d"), b("new")))
	must(t, c.Put(b("0"), b("new")))
	must(t, c.Put(b("f"), b("new")))
	_, _ = c.Delete(b("zz"))
	eq(t, col(t)(c.All()), []string{"0=new", "a=old", "b=new", "d=new", "e=old", "f=new"})
	eq(t, col(t)(c.ReverseAll()), []string{"f=new", "e=old", "d=new", "b=new", "a=old", "0=new"})
	eq(t, col(t)(c.Range(b("b"), b("e"))), []string{"b=new", "d=new", "e=old"})
	eq(t, col(t)(c.ReverseRange(b("a"), b("c"))), []string{"b=new", "a=old"})
	eq(t, col(t)(c.PrefixScan(b("d"))), []string{"d=new"})
	n, err := c.ApproximateNumEntries()
	must(t, err)
	if n < 4 {
		t.Fatalf("approximate entries %d", n)
	}
}

func TestCacheListenerMayReadStore(t *testing.T) {
	inner := NewInMemoryKeyValueStore("kv")
	c := NewCachingKeyValueStore(inner, 1<<20)
	checkClosed(t, c)
	var got []string
	c.SetFlushListener(func(k, nv, ov []byte, ts int64) error {
		v, err := c.Get(k) // re-entrant read: must not deadlock
		got = append(got, string(v))
		return err
	})
	must(t, c.Put(b("k"), b("v")))
	must(t, c.Flush())
	eq(t, got, []string{"v"})
}

func TestCacheConcurrentUse(t *testing.T) {
	c, _, _ := newTestCache(t, 2000)
	c.SetFlushListener(nil)
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < 500; i++ {
				k := b(fmt.Sprintf("k%d", i%37))
				if g%2 == 0 {
					_ = c.Put(k, b(fmt.Sprint(i)))
				} else {
					_, _ = c.Get(k)
					if i%50 == 0 {
						_ = c.Flush()
						it, err := c.All()
						if err == nil {
							for it.Next() {
							}
							it.Close()
						}
					}
				}
			}
		}(g)
	}
	wg.Wait()
}

func TestCachingWindowStore(t *testing.T) {
	inner := NewInMemoryWindowStore("w", time.Hour, 0, false)
	c := NewCachingWindowStore(inner, time.Hour, 1<<20)
	checkClosed(t, c)
	var got []string
	c.SetWindowFlushListener(func(k []byte, start int64, nv, ov []byte, ts int64) error {
		got = append(got, fmt.Sprintf("%s@%d %s<-%s ts=%d", k, start, nv, ov, ts))
		return nil
	})
	var st CachedStore = c
	_ = st
	must(t, c.PutWithTimestamp(b("k"), b("1"), 0, 5))
	must(t, c.PutWithTimestamp(b("k"), b("2"), 0, 6))
	must(t, c.PutWithTimestamp(b("k"), b("x"), 60_000, 61_000))
	if v, _ := inner.Fetch(b("k"), 0); v != nil || len(got) != 0 {
		t.Fatal("cache wrote through before flush")
	}
	eq(t, colW(t)(c.FetchRange(b("k"), 0, 100_000)), []string{"k@0=2", "k@60000=x"})
	must(t, c.Flush())
	eq(t, got, []string{"k@0 2<- ts=6", "k@60000 x<- ts=61000"})
	must(t, c.PutWithTimestamp(b("k"), b("3"), 0, 7))
	must(t, c.Flush())
	eq(t, got[2:], []string{"k@0 3<-2 ts=7"})
	v, err := inner.Fetch(b("k"), 0)
	must(t, err)
	if string(v) != "3" {
		t.Fatalf("inner has %q", v)
	}
}

// The old value passed to the listener is what the store below holds; the
// cache reads it below only when it does not know it: not for an entry
// created right after a read found nothing below, nor for one it read
// from below or wrote below since (a clean entry holds the store's value).
func TestCacheOldValueKnownWithoutRead(t *testing.T) {
	c, inner, recs := newTestCache(t, 1<<20)
	must(t, inner.KeyValueStore.Put(b("b"), b("below")))
	flushReads := func(want int) {
		t.Helper()
		gets := inner.gets
		must(t, c.Flush())
		if n := inner.gets - gets; n != want {
			t.Errorf("flush read %d old values below, want %d", n, want)
		}
	}
	getEq(t, c, "z", "")
	must(t, c.Put(b("b"), b("b1"))) // not the key that missed
	getEq(t, c, "a", "")            // a miss: nothing below
	must(t, c.Put(b("a"), b("a1")))
	must(t, c.Put(b("x"), b("x1"))) // written without a read
	flushReads(2)                   // b and x
	getEq(t, c, "y", "")
	must(t, c.Put(b("y"), b("y1")))
	must(t, c.Put(b("a"), nil))
	flushReads(0) // a: a1 was written below
	must(t, c.Put(b("a"), b("a2")))
	must(t, c.Put(b("b"), b("b2")))
	must(t, c.Put(b("b"), b("b3")))
	flushReads(0) // a's delete and b1 were written below
	got := fmt.Sprint(*recs)
	want := fmt.Sprint([]flushRec{
		{"b", "b1", "below", 0}, {"a", "a1", "<nil>", 0}, {"x", "x1", "<nil>", 0},
		{"y", "y1", "<nil>", 0}, {"a", "<nil>", "a1", 0},
		{"a", "a2", "<nil>", 0}, {"b", "b3", "b1", 0},
	})
	if got != want {
		t.Errorf("forwarded\n got %s\nwant %s", got, want)
	}
}
