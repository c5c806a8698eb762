package state

import (
	"fmt"
	"math/rand/v2"
	"os"
	"testing"
	"time"
)

// poolFixture is a window store whose segments are counting engines
// behind write-back buffers of perDB bytes each.
func poolFixture(retention, interval int64, perDB int) (*windowStore, map[int64]*countingEngine) {
	engines := map[int64]*countingEngine{}
	segs := newSegments("w", retention, interval, func(id int64) (segmentKV, error) {
		eng := &countingEngine{EngineStore: newMemKV(fmt.Sprint("w.", id))}
		engines[id] = eng
		return NewWriteBackStore(eng, perDB), nil
	})
	return &windowStore{segStore: segStore{name: "w", segs: segs}}, engines
}

// checkPoolCount fails unless the pool counts exactly what the open
// segments' buffers hold.
func checkPoolCount(t *testing.T, ws *windowStore) {
	t.Helper()
	g := ws.segs
	g.mu.Lock()
	sum := 0
	for _, s := range g.segs {
		sum += s.(*writeBack).bufferedBytes()
	}
	g.mu.Unlock()
	if got := g.pool.bytes.Load(); got != int64(sum) {
		t.Fatalf("pool counts %d bytes, the buffers hold %d", got, sum)
	}
}

// The buffers of a window store's segments share one bound: the segment
// being written may buffer more than one database's bound while the
// others are empty; when they together exceed the pool, the largest
// drains first; an expired segment's buffer leaves the pool with it.
func TestSegmentWriteBackPool(t *testing.T) {
	const perDB = 1000 // entry: 13-byte key, 10-byte value, 64 overhead = 87
	ws, engines := poolFixture(120_000, 60_000, perDB)
	if err := ws.Put(b("k00"), make([]byte, 10), 0); err != nil {
		t.Fatal(err)
	}
	if got, want := ws.segs.pool.budget.Load(), int64(3*perDB); got != want {
		t.Fatalf("pool bound %d, want %d (three live segments)", got, want)
	}
	for i := 1; i < 25; i++ { // about 2,100 bytes in segment 0
		must(t, ws.Put(fmt.Appendf(nil, "k%02d", i), make([]byte, 10), 0))
	}
	if e := engines[0]; e.batches != 0 || e.puts != 0 {
		t.Fatalf("segment 0 wrote %d batches and %d puts to its engine, past its own bound but within the pool's; want none", e.batches, e.puts)
	}
	checkPoolCount(t, ws)
	for i := 0; i < 12; i++ { // segment 1 takes the pool over its bound
		must(t, ws.Put(fmt.Appendf(nil, "k%02d", i), make([]byte, 10), 60_000))
	}
	if e := engines[0]; e.batches != 1 || e.batched != 25 {
		t.Fatalf("segment 0 (the largest) wrote %d batches of %d entries, want 1 of 25", e.batches, e.batched)
	}
	if e := engines[60_000/60_000]; e.batches != 0 {
		t.Fatalf("segment 1 wrote %d batches, want none", e.batches)
	}
	if n := ws.segs.pool.bytes.Load(); n > 3*perDB {
		t.Fatalf("pool holds %d bytes, over its bound", n)
	}
	checkPoolCount(t, ws)
	for i := 0; i < 25; i++ { // drained entries read from the engine
		if v, err := ws.Fetch(fmt.Appendf(nil, "k%02d", i), 0); err != nil || len(v) != 10 {
			t.Fatalf("fetch k%02d@0: %v, %v", i, v, err)
		}
	}
	// Stream time moves on: segment 0 expires and leaves the pool.
	must(t, ws.Put(b("late"), b("v"), 200_000))
	if _, ok := ws.segs.segs[0]; ok {
		t.Fatal("segment 0 still open")
	}
	checkPoolCount(t, ws)
	must(t, ws.Flush())
	checkPoolCount(t, ws)
}

// Random writes across segments, flushes and expiries: the pool's count
// follows its buffers, never stays over its bound after a write, and
// every window reads back as last written until it expires.
func TestSegmentWriteBackPoolMatchesModel(t *testing.T) {
	const perDB = 600
	ws, _ := poolFixture(150_000, 50_000, perDB)
	rng := rand.New(rand.NewPCG(7, 9))
	type win struct {
		key   string
		start int64
	}
	model := map[win][]byte{}
	now := int64(0)
	for step := range 3000 {
		switch r := rng.IntN(100); {
		case r < 2:
			must(t, ws.Flush())
		case r < 6:
			now += int64(rng.IntN(20_000))
		case r < 20:
			// A batch across segments, as a cache flush (buffered) or
			// restoration writes.
			var batch []WindowKeyValue
			for range 1 + rng.IntN(6) {
				start := max(0, now-int64(rng.IntN(150_000))) / 10_000 * 10_000
				key := fmt.Appendf(nil, "k%d", rng.IntN(20))
				e := WindowKeyValue{Key: key, Start: start, Value: fmt.Appendf(nil, "b%d", step)}
				if rng.IntN(2) == 0 {
					e.enc = WindowKey(key, start)
				}
				batch = append(batch, e)
			}
			if rng.IntN(2) == 0 {
				must(t, ws.putWindowsBuffered(batch))
			} else {
				must(t, ws.PutWindows(batch))
			}
			for _, e := range batch {
				if e.Start >= ws.segs.minLive() {
					model[win{string(e.Key), e.Start}] = e.Value
				}
			}
		default:
			start := max(0, now-int64(rng.IntN(150_000))) / 10_000 * 10_000
			key := fmt.Appendf(nil, "k%d", rng.IntN(20))
			var v []byte
			if rng.IntN(10) > 0 {
				v = fmt.Appendf(nil, "v%d", step)
			}
			must(t, ws.Put(key, v, start))
			if start >= ws.segs.minLive() {
				model[win{string(key), start}] = v
			}
			if n := ws.segs.pool.bytes.Load(); n > ws.segs.pool.budget.Load() {
				t.Fatalf("step %d: pool holds %d bytes, over its bound %d", step, n, ws.segs.pool.budget.Load())
			}
		}
		checkPoolCount(t, ws)
	}
	for w, want := range model {
		if w.start < ws.segs.minLive() {
			continue
		}
		got, err := ws.Fetch([]byte(w.key), w.start)
		if err != nil || string(got) != string(want) {
			t.Fatalf("fetch %s@%d: %q, %v; want %q", w.key, w.start, got, err, want)
		}
	}
}

// reopenable is an engine database that outlives Close, as one on disk.
type reopenable struct{ *countingEngine }

func (reopenable) Close() error { return nil }

// A segment the store creates holds nothing in its engine until its buffer
// first writes to it: reads that miss the buffer skip the engine. Segments
// found on disk, and created ones once written, are read from the engine.
func TestCreatedSegmentSkipsEngineReads(t *testing.T) {
	dir := t.TempDir()
	dbs := map[string]*countingEngine{}
	openDB := func(name, dir string) (EngineStore, error) {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, err
		}
		if dbs[dir] == nil {
			dbs[dir] = &countingEngine{EngineStore: newMemKV(name)}
		}
		return NewWriteBackStore(reopenable{dbs[dir]}, 1<<20), nil
	}
	gets := func() (n int) {
		for _, e := range dbs {
			n += e.gets
		}
		return n
	}
	open := func() WindowStore {
		ws, err := OpenSegmentedWindowStore("w", dir, 120*time.Second, 60*time.Second, false, openDB)
		if err != nil {
			t.Fatal(err)
		}
		return ws
	}
	ws := open()
	must(t, ws.Put(b("a"), b("1"), 0))
	if v, err := ws.Fetch(b("b"), 0); err != nil || v != nil || gets() != 0 {
		t.Fatalf("fetch of an absent window in a created segment: %q, %v, %d engine reads; want none", v, err, gets())
	}
	must(t, ws.Flush()) // the buffer writes segment 0's engine
	if v, err := ws.Fetch(b("b"), 0); err != nil || v != nil || gets() != 1 {
		t.Fatalf("fetch after the engine was written: %q, %v, %d engine reads; want 1", v, err, gets())
	}
	must(t, ws.Close())

	ws = open() // segment 0 is found on disk
	defer ws.Close()
	if v, err := ws.Fetch(b("a"), 0); err != nil || string(v) != "1" {
		t.Fatalf("fetch a@0 after reopen: %q, %v; want 1", v, err)
	}
	before := gets()
	if v, err := ws.Fetch(b("b"), 0); err != nil || v != nil || gets() != before+1 {
		t.Fatalf("fetch of an absent window in a segment found on disk: %q, %v, %d engine reads; want 1", v, err, gets()-before)
	}
	must(t, ws.Put(b("c"), b("3"), 60_000)) // creates segment 1
	before = gets()
	if v, err := ws.Fetch(b("d"), 60_000); err != nil || v != nil || gets() != before {
		t.Fatalf("fetch in the segment created after reopen: %q, %v, %d engine reads; want none", v, err, gets()-before)
	}
	if v, err := ws.Fetch(b("c"), 60_000); err != nil || string(v) != "3" {
		t.Fatalf("fetch c@60000: %q, %v; want 3", v, err)
	}
}
