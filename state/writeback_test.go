package state

import (
	"fmt"
	"testing"
)

// countingEngine counts the calls that reach the engine.
type countingEngine struct {
	EngineStore
	gets, puts, batches, batched int
}

func (c *countingEngine) Get(k []byte) ([]byte, error) { c.gets++; return c.EngineStore.Get(k) }
func (c *countingEngine) Put(k, v []byte) error        { c.puts++; return c.EngineStore.Put(k, v) }
func (c *countingEngine) PutAll(e []KeyValue) error {
	c.batches++
	c.batched += len(e)
	return c.EngineStore.PutAll(e)
}

// The writes between two flushes reach the engine once per key, as one
// batch, at Flush; reads see them before.
func TestWriteBackAbsorbsWritesUntilFlush(t *testing.T) {
	eng := &countingEngine{EngineStore: newMemKV("kv")}
	s := NewWriteBackStore(eng, 1<<20)
	checkClosed(t, s)
	for i := 0; i < 100; i++ {
		v, err := s.Get(b("hot"))
		must(t, err)
		n := 0
		if v != nil {
			n = int(v[0])
		}
		must(t, s.Put(b("hot"), []byte{byte(n + 1)}))
		must(t, s.Put(b("cold"), b("x")))
	}
	must(t, s.Put(b("cold"), nil))
	if eng.puts != 0 || eng.batches != 0 {
		t.Fatalf("engine written before Flush: %d puts, %d batches", eng.puts, eng.batches)
	}
	if eng.gets != 1 {
		t.Fatalf("engine read %d times, want once (the first miss)", eng.gets)
	}
	if v, _ := s.Get(b("hot")); len(v) != 1 || v[0] != 100 {
		t.Fatalf("buffered read %v", v)
	}
	if v, _ := s.Get(b("cold")); v != nil {
		t.Fatalf("buffered delete read back as %q", v)
	}
	must(t, s.Flush())
	if eng.batches != 1 || eng.batched != 2 {
		t.Fatalf("flush wrote %d batches of %d entries, want 1 of 2", eng.batches, eng.batched)
	}
	if v, _ := eng.EngineStore.Get(b("hot")); len(v) != 1 || v[0] != 100 {
		t.Fatalf("engine holds %v after flush", v)
	}
	// A scan sees the buffered writes.
	must(t, s.Put(b("new"), b("1")))
	eq(t, col(t)(s.All()), []string{"hot=\x64", "new=1"})

	// Past its bound, the buffer is written early.
	small := &countingEngine{EngineStore: newMemKV("kv")}
	s2 := NewWriteBackStore(small, 1000)
	checkClosed(t, s2)
	for i := 0; i < 100; i++ {
		must(t, s2.Put([]byte{byte(i)}, make([]byte, 50)))
	}
	if small.batches == 0 {
		t.Fatal("a buffer past its bound was not written")
	}
	must(t, s2.Close())
	if err := s2.Put(b("k"), b("v")); err != ErrClosed {
		t.Fatalf("put after close: %v", err)
	}
}

// A flush keeps what it wrote to serve reads until the next flush, which
// drops what was not written again; batch writes and the bound empty it.
func TestWriteBackKeepsFlushedEntriesForReads(t *testing.T) {
	eng := &countingEngine{EngineStore: newMemKV("kv")}
	s := NewWriteBackStore(eng, 1<<20)
	checkClosed(t, s)
	must(t, s.Put(b("hot"), b("1")))
	must(t, s.Put(b("cold"), b("c")))
	must(t, s.Put(b("gone"), b("g")))
	must(t, s.Put(b("gone"), nil))
	must(t, s.Flush())
	if eng.batches != 1 || eng.batched != 3 {
		t.Fatalf("flush wrote %d batches of %d entries, want 1 of 3", eng.batches, eng.batched)
	}
	// Interval 2: reads are served by the buffer; only hot is written.
	for _, k := range []string{"hot", "cold", "gone"} {
		v, err := s.Get(b(k))
		must(t, err)
		want := map[string]string{"hot": "1", "cold": "c"}[k]
		if string(v) != want || (want == "") != (v == nil) {
			t.Fatalf("get %s after flush: %q, want %q", k, v, want)
		}
	}
	if eng.gets != 0 {
		t.Fatalf("engine read %d times after a flush, want 0", eng.gets)
	}
	if n, _ := s.ApproximateNumEntries(); n != 2 {
		t.Fatalf("approximate entries %d after flush, want 2 (clean entries are the engine's)", n)
	}
	must(t, s.Put(b("hot"), b("2")))
	eq(t, col(t)(s.All()), []string{"cold=c", "hot=2"})
	must(t, s.Flush())
	if eng.batches != 2 || eng.batched != 4 {
		t.Fatalf("second flush: %d batches of %d entries in all, want 2 of 4 (clean entries are not written again)", eng.batches, eng.batched)
	}
	// Interval 3: cold and gone were not written in interval 2, so the
	// engine answers for them; hot is still buffered.
	for _, k := range []string{"hot", "cold", "gone"} {
		_, err := s.Get(b(k))
		must(t, err)
	}
	if eng.gets != 2 {
		t.Fatalf("engine read %d times, want 2 (cold, gone)", eng.gets)
	}
	if v, _ := s.Get(b("hot")); string(v) != "2" {
		t.Fatalf("hot reads %q", v)
	}
	// A batch write goes to the engine: the buffer must not answer with
	// the value it held before.
	must(t, s.PutAll([]KeyValue{{Key: b("hot"), Value: b("3")}}))
	if v, _ := s.Get(b("hot")); string(v) != "3" {
		t.Fatalf("hot reads %q after a batch write, want 3", v)
	}

	// Past the bound, clean entries are dropped before dirty ones are
	// written.
	small := &countingEngine{EngineStore: newMemKV("kv")}
	s2 := NewWriteBackStore(small, 1000)
	checkClosed(t, s2)
	for i := 0; i < 12; i++ {
		must(t, s2.Put([]byte{byte(i)}, make([]byte, 10)))
	}
	must(t, s2.Flush()) // 12 clean entries, about 900 bytes
	for i := 100; i < 103; i++ {
		must(t, s2.Put([]byte{byte(i)}, make([]byte, 10)))
	}
	if small.batches != 1 {
		t.Fatalf("%d batches: dirty entries written while clean ones could go", small.batches)
	}
	for i := 0; i < 12; i++ {
		if v, _ := s2.Get([]byte{byte(i)}); len(v) != 10 {
			t.Fatalf("key %d reads %v after its clean entry was dropped", i, v)
		}
	}
}

// PutOwned keeps the caller's slice (no copy), through the logging store
// too, whose changelog record carries the same slice; Put still copies.
func TestWriteBackPutOwnedKeepsTheSlice(t *testing.T) {
	sink := &recordingSink{}
	wb := NewWriteBackStore(newMemKV("kv"), 1<<20)
	s := NewLoggingKeyValueStore(wb, Changelog{Topic: "c", Sink: sink})
	checkClosed(t, s)
	owned, ok := s.(ownedPutter)
	if !ok {
		t.Fatal("the logging store over a write-back buffer offers no PutOwned")
	}
	same := func(a, b []byte) bool { return len(a) > 0 && len(b) > 0 && &a[0] == &b[0] }
	for i, v := range [][]byte{b("first"), b("second")} { // a new entry, then an overwrite
		must(t, owned.PutOwned(b("k"), v))
		got, err := s.Get(b("k"))
		must(t, err)
		if string(got) != string(v) || !same(got, v) {
			t.Fatalf("put %d: read %q, want the slice handed over", i, got)
		}
		if !same(sink.recs[i].value, v) {
			t.Fatalf("put %d: changelog record does not carry the slice handed over", i)
		}
	}
	v := b("copied")
	must(t, s.Put(b("k"), v))
	if got, _ := s.Get(b("k")); string(got) != "copied" || same(got, v) {
		t.Fatalf("Put kept the caller's slice (read %q)", got)
	}
	must(t, owned.PutOwned(b("k"), nil))
	if got, _ := s.Get(b("k")); got != nil {
		t.Fatalf("an owned nil put read back as %q", got)
	}
	must(t, s.Flush())

	// Over a store that cannot keep slices, PutOwned is a Put.
	mem := newMemKV("kv")
	s2 := NewLoggingKeyValueStore(mem, Changelog{Topic: "c", Sink: &recordingSink{}})
	must(t, s2.(ownedPutter).PutOwned(b("k"), b("v")))
	if got, _ := mem.Get(b("k")); string(got) != "v" {
		t.Fatalf("PutOwned over a plain store read back %q", got)
	}
}

// A put with a borrowed key (PutOwnedBorrowedKey) lets the caller reuse the
// key's buffer at once: the store and the changelog record keep their own
// key, unchanged by anything the caller writes into its buffer later. Over
// a write-back buffer the changelog record carries the buffer's copy (one
// per key, not one per put); over a plain store, a copy of its own.
func TestLoggingPutWithBorrowedKey(t *testing.T) {
	type borrower interface {
		PutOwnedBorrowedKey(key, value []byte) error
	}
	for _, wrap := range []bool{true, false} {
		sink := &recordingSink{}
		var inner KeyValueStore = newMemKV("kv")
		if wrap {
			inner = NewWriteBackStore(newMemKV("kv"), 1<<20)
		}
		s := NewLoggingKeyValueStore(inner, Changelog{Topic: "c", Sink: sink})
		bs, ok := s.(borrower)
		if !ok {
			t.Fatal("the logging store offers no PutOwnedBorrowedKey")
		}
		scratch := make([]byte, 0, 16)
		keys := []string{"alpha", "b", "alpha", "", "gamma", "b"}
		for i, k := range keys {
			kb := append(scratch[:0], k...)
			must(t, bs.PutOwnedBorrowedKey(kb, []byte{byte(i)}))
			copy(kb[:cap(kb)], "XXXXXXXXXXXXXXXX") // the caller reuses its buffer
		}
		if len(sink.recs) != len(keys) {
			t.Fatalf("write-back %v: %d changelog records, want %d", wrap, len(sink.recs), len(keys))
		}
		for i, k := range keys {
			r := sink.recs[i]
			if string(r.key) != k || r.key == nil || len(r.value) != 1 || r.value[0] != byte(i) {
				t.Fatalf("write-back %v: changelog record %d is %q=%v, want %q=[%d]", wrap, i, r.key, r.value, k, i)
			}
		}
		if wrap && &sink.recs[0].key[0] != &sink.recs[2].key[0] {
			t.Fatal("two puts of one key over a write-back buffer logged two copies of it")
		}
		for i, k := range []string{"alpha", "b", "", "gamma"} {
			want := map[string]byte{"alpha": 2, "b": 5, "": 3, "gamma": 4}[k]
			if v, err := s.Get([]byte(k)); err != nil || len(v) != 1 || v[0] != want {
				t.Fatalf("write-back %v: key %d %q reads %v (%v), want [%d]", wrap, i, k, v, err, want)
			}
		}
		must(t, s.Flush())
		for k, want := range map[string]byte{"alpha": 2, "b": 5, "gamma": 4} {
			if v, err := s.Get([]byte(k)); err != nil || len(v) != 1 || v[0] != want {
				t.Fatalf("write-back %v: after flush %q reads %v (%v), want [%d]", wrap, k, v, err, want)
			}
		}
		must(t, s.Close())
	}
}

// A write after a read finds the entry the read found without a second
// lookup; an entry that left the buffer in between (dropped after two
// flushes, emptied by a batch write, a delete) must not be written to.
func TestWriteBackWriteAfterReadAcrossDrops(t *testing.T) {
	eng := &countingEngine{EngineStore: newMemKV("kv")}
	w := NewWriteBackStore(eng, 1<<20).(*writeBack)
	checkClosed(t, w)
	read := func(want string) {
		t.Helper()
		got, err := w.Get(b("k"))
		must(t, err)
		if string(got) != want {
			t.Fatalf("read %q, want %q", got, want)
		}
	}
	must(t, w.Put(b("k"), b("1")))
	read("1")
	must(t, w.Put(b("k"), b("2"))) // through the remembered entry
	read("2")
	must(t, w.Flush()) // k is kept, clean
	read("2")
	must(t, w.Flush()) // not written again: dropped
	must(t, w.Put(b("k"), b("3")))
	read("3")
	must(t, w.Flush())
	if got, _ := eng.EngineStore.Get(b("k")); string(got) != "3" {
		t.Fatalf("engine holds %q after a write after a drop, want 3", got)
	}
	read("3")
	must(t, w.PutAll([]KeyValue{{Key: b("other"), Value: b("x")}})) // empties the buffer
	must(t, w.Put(b("k"), b("4")))
	read("4")
	_, err := w.Delete(b("k"))
	must(t, err)
	read("")
	must(t, w.Put(b("k"), b("5")))
	read("5")
	must(t, w.Flush())
	if got, _ := eng.EngineStore.Get(b("k")); string(got) != "5" {
		t.Fatalf("engine holds %q, want 5", got)
	}
	// The bound drops clean entries: the remembered one too.
	small := NewWriteBackStore(newMemKV("kv"), 200).(*writeBack)
	checkClosed(t, small)
	must(t, small.Put(b("k"), b("1")))
	must(t, small.Flush())
	if got, _ := small.Get(b("k")); string(got) != "1" {
		t.Fatalf("read %q", got)
	}
	for i := 0; i < 3; i++ {
		must(t, small.Put([]byte{byte(i)}, make([]byte, 40)))
	}
	must(t, small.Put(b("k"), b("2")))
	if got, _ := small.Get(b("k")); string(got) != "2" {
		t.Fatalf("read %q after the bound dropped the remembered entry, want 2", got)
	}
}

// A window store's batch writes through its logging wrapper (the record
// cache's evictions) go into its segments' write-back buffers: windows
// written again before the next flush reach the engine once, at Flush, and
// reads see them before. Restoration's batches (PutWindows on the store
// itself) go to the engine at once, as a key-value store's PutAll does.
func TestWriteBackAbsorbsWindowBatches(t *testing.T) {
	var engines []*countingEngine
	segs := newSegments("w", 3_600_000, 60_000, func(id int64) (segmentKV, error) {
		eng := &countingEngine{EngineStore: newMemKV(fmt.Sprint("w.", id))}
		engines = append(engines, eng)
		return NewWriteBackStore(eng, 1<<20), nil
	})
	ws := &windowStore{segStore: segStore{name: "w", segs: segs}}
	sink := &recordingSink{}
	logged := NewLoggingWindowStore(ws, false, Changelog{Topic: "c", Sink: sink}).(WindowBatchWriter)
	checkClosed(t, ws)
	for i := range 10 {
		must(t, logged.PutWindows([]WindowKeyValue{
			{Key: b("a"), Start: 0, Value: []byte{byte(i)}},
			{Key: b("b"), Start: 10_000, Value: []byte{byte(i)}},
			{Key: b("a"), Start: 70_000, Value: []byte{byte(i)}},
		}))
	}
	if v, err := ws.Fetch(b("a"), 70_000); err != nil || len(v) != 1 || v[0] != 9 {
		t.Fatalf("fetch a@70000: %v, %v", v, err)
	}
	batched := func() (batches, entries int) {
		for _, e := range engines {
			batches, entries = batches+e.batches, entries+e.batched
		}
		return batches, entries
	}
	if n, _ := batched(); n != 0 || len(engines) != 2 {
		t.Fatalf("%d engine batches in %d segments before Flush, want none in 2", n, len(engines))
	}
	must(t, ws.Flush())
	if n, m := batched(); n != 2 || m != 3 {
		t.Fatalf("flush wrote %d batches of %d entries in all, want 2 of 3", n, m)
	}
	must(t, ws.PutWindows([]WindowKeyValue{{Key: b("r"), Start: 0, Value: b("r")}}))
	if n, m := batched(); n != 3 || m != 4 {
		t.Fatalf("restoration's batch: %d batches of %d entries in all, want 3 of 4", n, m)
	}
	if len(sink.recs) != 30 {
		t.Fatalf("%d changelog records, want 30 (every write is logged)", len(sink.recs))
	}
}
