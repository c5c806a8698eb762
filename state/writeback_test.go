package state

import (
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
