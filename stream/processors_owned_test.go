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
