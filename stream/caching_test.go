package stream_test

import (
	"testing"

	"github.com/kafki/kafki/serde"
	"github.com/kafki/kafki/state"
	"github.com/kafki/kafki/stream"
	"github.com/kafki/kafki/topology/topologytest"
)

// cachingKV is a minimal record cache over an in-memory store, with the
// flush-listener shape of state's caching stores: writes stay in the cache
// until Flush, which reports each dirty key's new and old value once.
type cachingKV struct {
	state.KeyValueStore
	dirty    map[string][]byte
	order    []string
	listener func(key, newValue, oldValue []byte, ts int64) error
}

func (c *cachingKV) SetFlushListener(fn func(key, newValue, oldValue []byte, ts int64) error) {
	c.listener = fn
}

func (c *cachingKV) Get(key []byte) ([]byte, error) {
	if v, ok := c.dirty[string(key)]; ok {
		return v, nil
	}
	return c.KeyValueStore.Get(key)
}

func (c *cachingKV) Put(key, value []byte) error {
	if _, ok := c.dirty[string(key)]; !ok {
		c.order = append(c.order, string(key))
	}
	c.dirty[string(key)] = value
	return nil
}

func (c *cachingKV) Delete(key []byte) ([]byte, error) {
	old, err := c.Get(key)
	return old, errJoin(err, c.Put(key, nil))
}

func errJoin(a, b error) error {
	if a != nil {
		return a
	}
	return b
}

func (c *cachingKV) Flush() error {
	for _, k := range c.order {
		old, err := c.KeyValueStore.Get([]byte(k))
		if err != nil {
			return err
		}
		if err := c.KeyValueStore.Put([]byte(k), c.dirty[k]); err != nil {
			return err
		}
		if err := c.listener([]byte(k), c.dirty[k], old, 0); err != nil {
			return err
		}
	}
	c.dirty, c.order = map[string][]byte{}, nil
	return c.KeyValueStore.Flush()
}

func TestCachingForwardsOnFlush(t *testing.T) {
	b := stream.NewBuilder()
	s := stream.Stream(b, "in", serde.String(), serde.String())
	stream.Count(stream.GroupByKey(s), stream.StoreName("cached")).ToStream().To("out")
	stream.Count(stream.GroupByKey(s), stream.StoreName("uncached"), stream.WithCaching(false)).ToStream().To("direct")
	opener := func(spec state.Spec) (state.Store, error) {
		mem := state.NewInMemoryKeyValueStore(spec.Name)
		if !spec.Caching {
			return mem, nil
		}
		return &cachingKV{KeyValueStore: mem, dirty: map[string][]byte{}}, nil
	}
	d := newDriver(t, b, topologytest.StoreOpener(opener), topologytest.ManualFlush())
	in := topologytest.CreateInputTopic(d, "in", serde.String(), serde.String())
	out := topologytest.CreateOutputTopic(d, "out", serde.String(), serde.Int64())
	direct := topologytest.CreateOutputTopic(d, "direct", serde.String(), serde.Int64())
	for i, k := range []string{"a", "b", "a", "a"} {
		pipe(t, in, k, "x", int64(i))
	}
	if !out.IsEmpty() {
		t.Fatalf("cached table forwarded before flush: %s", read(t, out))
	}
	if got, want := read(t, direct), "a=1@0 b=1@1 a=2@2 a=3@3"; got != want {
		t.Fatalf("direct: got %q, want %q", got, want)
	}
	if err := d.Flush(); err != nil {
		t.Fatal(err)
	}
	// One update per key, the latest, as the cache merged them, with the
	// timestamp kept with the value (the stand-in passes none).
	if got, want := read(t, out), "a=3@3 b=1@1"; got != want {
		t.Fatalf("cached: got %q, want %q", got, want)
	}
}
