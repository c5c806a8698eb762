package stream

import (
	"testing"

	"github.com/kafki/kafki/serde"
	"github.com/kafki/kafki/state"
	"github.com/kafki/kafki/topology"
)

// ownedStore records the values handed over through PutOwned.
type ownedStore struct {
	state.KeyValueStore
	owned [][]byte
}

func (s *ownedStore) PutOwned(key, value []byte) error {
	s.owned = append(s.owned, value)
	return s.KeyValueStore.Put(key, value)
}

// storeContext serves one store; the test calls nothing else.
type storeContext struct {
	topology.ProcessorContext[string, int64]
	s state.Store
}

func (c storeContext) StateStore(string) (state.Store, error) { return c.s, nil }

// A table store hands each encoded value over to a store that can keep it
// (the write-back buffer under the logging store), in a slice of its own:
// not the scratch buffer the next put encodes into, nor an earlier put's.
func TestTableStoreHandsOverItsValues(t *testing.T) {
	st := &ownedStore{KeyValueStore: state.NewInMemoryKeyValueStore("counts")}
	for _, vs := range []serde.Serde[int64]{serde.Int64(), plainSerde[int64]{serde.Int64()}} {
		st.owned = nil
		kv, err := openTableKV[string, int64](storeContext{s: st}, "counts", serde.String(), vs)
		if err != nil {
			t.Fatal(err)
		}
		kb, _ := kv.keyBytes("w")
		for i := int64(1); i <= 3; i++ {
			if err := kv.put(kb, i, 100+i); err != nil {
				t.Fatal(err)
			}
			v, ts, ok, err := kv.getWithTime(kb)
			if err != nil || !ok || v != i || ts != 100+i {
				t.Fatalf("read %d@%d (%v, %v), want %d@%d", v, ts, ok, err, i, 100+i)
			}
		}
		if len(st.owned) != 3 {
			t.Fatalf("%d values handed over, want 3 (one per put)", len(st.owned))
		}
		seen := map[*byte]bool{}
		if s := *kv.scratch; cap(s) > 0 {
			seen[&s[:1][0]] = true
		}
		for i, b := range st.owned {
			if seen[&b[0]] {
				t.Fatalf("put %d handed over a slice shared with the scratch buffer or another put", i)
			}
			seen[&b[0]] = true
			if ts, _, _ := state.DecodeTimestamped(b); ts != int64(101+i) {
				t.Fatalf("put %d handed over a value stamped %d", i, ts)
			}
		}
	}
}

// plainSerde hides a serde's Appender, for the put path without it.
type plainSerde[T any] struct{ s serde.Serde[T] }

func (p plainSerde[T]) Serialize(topic string, h []serde.Header, v T) ([]byte, error) {
	return p.s.Serialize(topic, h, v)
}

func (p plainSerde[T]) Deserialize(topic string, h []serde.Header, b []byte) (T, error) {
	return p.s.Deserialize(topic, h, b)
}

// borrowingStore records the keys of PutOwnedBorrowedKey and Delete.
type borrowingStore struct {
	state.KeyValueStore
	putKeys, deleteKeys [][]byte
}

func (s *borrowingStore) PutOwned(key, value []byte) error { return s.KeyValueStore.Put(key, value) }

func (s *borrowingStore) PutOwnedBorrowedKey(key, value []byte) error {
	s.putKeys = append(s.putKeys, key)
	return s.KeyValueStore.Put(append([]byte(nil), key...), value)
}

func (s *borrowingStore) Delete(key []byte) ([]byte, error) {
	s.deleteKeys = append(s.deleteKeys, key)
	return s.KeyValueStore.Delete(key)
}

// A table store encodes the keys it reads and writes into one scratch
// buffer only over a store that lends keys (PutOwnedBorrowedKey: the
// logging store, which logs a key of its own); a delete, whose changelog
// record keeps the key it is given, gets a copy. Over any other store each
// key is a slice of its own.
func TestTableStoreKeyScratch(t *testing.T) {
	same := func(a, b []byte) bool { return cap(a) > 0 && cap(b) > 0 && &a[:1][0] == &b[:1][0] }
	st := &borrowingStore{KeyValueStore: state.NewInMemoryKeyValueStore("counts")}
	kv, err := openTableKV[string, int64](storeContext{s: st}, "counts", serde.String(), serde.Int64())
	if err != nil {
		t.Fatal(err)
	}
	var keys [][]byte
	for i, k := range []string{"a", "bb", "a"} {
		kb, err := kv.keyScratch(k)
		if err != nil || string(kb) != k {
			t.Fatalf("key %q encoded as %q (%v)", k, kb, err)
		}
		keys = append(keys, kb)
		if err := kv.put(kb, int64(i), int64(i)); err != nil {
			t.Fatal(err)
		}
	}
	if !same(keys[0], keys[1]) || !same(keys[1], keys[2]) || len(st.putKeys) != 3 || !same(st.putKeys[2], keys[2]) {
		t.Fatal("keys were not encoded into the scratch buffer and lent to the store")
	}
	kb, _ := kv.keyScratch("bb")
	if err := kv.remove(kb, 9); err != nil {
		t.Fatal(err)
	}
	if len(st.deleteKeys) != 1 || same(st.deleteKeys[0], kb) || string(st.deleteKeys[0]) != "bb" {
		t.Fatalf("a delete was given the scratch buffer, or the wrong key (%q)", st.deleteKeys)
	}
	if v, ok, err := kv.get([]byte("a")); err != nil || !ok || v != 2 {
		t.Fatalf("a reads %d (%v, %v), want 2", v, ok, err)
	}

	// Over a store that keeps the keys it is given, no scratch buffer.
	plain := &ownedStore{KeyValueStore: state.NewInMemoryKeyValueStore("counts")}
	kv2, err := openTableKV[string, int64](storeContext{s: plain}, "counts", serde.String(), serde.Int64())
	if err != nil {
		t.Fatal(err)
	}
	a, _ := kv2.keyScratch("a")
	b, _ := kv2.keyScratch("b")
	if same(a, b) || string(a) != "a" || string(b) != "b" {
		t.Fatal("a store that keeps keys was given keys in a shared buffer")
	}
}
