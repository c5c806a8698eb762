package state

import (
	"fmt"
	"math/rand"
	"testing"
)

// Scans of a write-back store read the buffered writes merged with the
// engine's, without writing the buffer to the engine: every kind of scan,
// after random puts, deletes, batches and flushes, reads what a plain store
// given the same writes reads.
func TestWriteBackScansMergeWithoutWriting(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	eng := &countingEngine{EngineStore: newMemKV("kv")}
	s := NewWriteBackStore(eng, 1<<20)
	ref := newMemKV("ref")
	key := func() []byte { return fmt.Appendf(nil, "k%02d", rng.Intn(40)) }
	for step := 0; step < 2000; step++ {
		switch r := rng.Intn(20); {
		case r < 10:
			k, v := key(), fmt.Appendf(nil, "v%d", step)
			must(t, s.Put(k, v))
			must(t, ref.Put(k, v))
		case r < 15:
			k := key()
			_, err := s.Delete(k)
			must(t, err)
			_, err = ref.Delete(k)
			must(t, err)
		case r < 16:
			must(t, s.Flush())
		case r < 17:
			e := []KeyValue{{Key: key(), Value: b("batch")}, {Key: key(), Value: nil}}
			must(t, s.PutAll(e))
			must(t, ref.PutAll(e))
		default:
			lo, hi := key(), key()
			batches := eng.batches
			eq(t, col(t)(s.Range(lo, hi)), col(t)(ref.Range(lo, hi)))
			eq(t, col(t)(s.ReverseRange(lo, hi)), col(t)(ref.ReverseRange(lo, hi)))
			eq(t, col(t)(s.PrefixScan(lo[:2])), col(t)(ref.PrefixScan(lo[:2])))
			eq(t, col(t)(s.All()), col(t)(ref.All()))
			eq(t, col(t)(s.ReverseAll()), col(t)(ref.ReverseAll()))
			eq(t, col(t)(s.(*writeBack).Scan(lo, hi, false, false)), col(t)(ref.Scan(lo, hi, false, false)))
			if eng.batches != batches {
				t.Fatalf("step %d: a scan wrote the buffer to the engine", step)
			}
		}
	}
	if eng.batches == 0 || eng.puts != 0 {
		t.Fatalf("engine writes: %d batches, %d puts", eng.batches, eng.puts)
	}
}

// A scan open while the buffer is written to the engine (a commit's flush,
// or a batch) reads every entry once: none moved behind its engine
// iterator is lost, none is read twice.
func TestWriteBackScanAcrossDrain(t *testing.T) {
	for _, reverse := range []bool{false, true} {
		for _, at := range []int{0, 1, 5, 9} {
			t.Run(fmt.Sprintf("reverse=%v/drain-after-%d", reverse, at), func(t *testing.T) {
				s := NewWriteBackStore(newMemKV("kv"), 1<<20)
				var want []string
				for i := 0; i < 10; i++ {
					k := fmt.Sprintf("k%d", i)
					must(t, s.Put(b(k), b("v")))
					if i%3 == 0 {
						must(t, s.Flush()) // some entries in the engine, some buffered
					}
					want = append(want, k+"=v")
				}
				if reverse {
					for i, j := 0, len(want)-1; i < j; i, j = i+1, j-1 {
						want[i], want[j] = want[j], want[i]
					}
				}
				var it KeyValueIterator
				var err error
				if reverse {
					it, err = s.ReverseAll()
				} else {
					it, err = s.All()
				}
				must(t, err)
				var got []string
				for it.Next() {
					got = append(got, string(it.Key())+"="+string(it.Value()))
					if len(got) == at {
						must(t, s.Flush())
					}
				}
				must(t, it.Err())
				must(t, it.Close())
				eq(t, got, want)
				if n := s.OpenIterators(); n != 0 {
					t.Fatalf("%d engine iterators left open", n)
				}
			})
		}
	}
}
