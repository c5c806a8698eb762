package state

import (
	"cmp"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// TestTimeOrderedBufferOrderMatchesModel drives a buffer with puts of few
// and many distinct times, partial evictions (so that keys arrive in the
// group being emitted from) and restored tombstones, and checks every
// emission against a model that sorts all entries by (buffer time, key),
// keys compared as bytes.
func TestTimeOrderedBufferOrderMatchesModel(t *testing.T) {
	for _, times := range []int{1, 3, 50, 1000} {
		t.Run(fmt.Sprint(times, "times"), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(uint64(times), 7))
			buf := NewTimeOrderedBuffer("buf")
			type entry struct {
				time int64
				key  string
			}
			model := map[string]int64{}
			// Keys of 1 to 11 bytes from a small alphabet with zero bytes:
			// many share prefixes, some are prefixes of others, and the
			// long ones share their first 8 bytes, often.
			keys := make([]string, 400)
			for i := range keys {
				k := make([]byte, 1+rng.IntN(11))
				for j := range k {
					k[j] = "\x00\x01a\xff"[rng.IntN(4)]
				}
				if len(k) > 8 {
					copy(k, []string{"\x00a\x00a\x00a\x00a", "aaaaaaaa"}[rng.IntN(2)])
				}
				keys[i] = string(k)
			}
			for step := range 20000 {
				k := keys[rng.IntN(len(keys))]
				switch r := rng.IntN(10); {
				case r < 6:
					ts := int64(rng.IntN(times))
					must(t, buf.Put(ts, []byte(k), nil, []byte("v"), ctxAt(ts)))
					if _, ok := model[k]; !ok {
						model[k] = ts
					}
				case r < 7:
					must(t, buf.Restore([]byte(k), nil, nil))
					delete(model, k)
				default:
					// Evict up to a time, at most a few entries.
					upTo, most := int64(rng.IntN(times+1))-1, rng.IntN(20)
					var want []entry
					for k, ts := range model {
						if ts <= upTo {
							want = append(want, entry{ts, k})
						}
					}
					slices.SortFunc(want, func(a, b entry) int {
						return cmp.Or(cmp.Compare(a.time, b.time), cmp.Compare(a.key, b.key))
					})
					want = want[:min(most, len(want))]
					var got []entry
					must(t, buf.EvictWhile(func() bool { return len(got) < most && buf.MinTimestamp() <= upTo },
						func(key []byte, v *BufferValue) error {
							got = append(got, entry{model[string(key)], string(key)})
							return nil
						}))
					if !slices.Equal(got, want) {
						t.Fatalf("step %d: evicted %v, want %v", step, got, want)
					}
					for _, e := range got {
						delete(model, e.key)
					}
				}
				wantMin := int64(math.MaxInt64)
				for _, ts := range model {
					wantMin = min(wantMin, ts)
				}
				if buf.NumRecords() != len(model) || buf.MinTimestamp() != wantMin {
					t.Fatalf("step %d: %d records, min time %d; want %d, %d", step, buf.NumRecords(), buf.MinTimestamp(), len(model), wantMin)
				}
			}
		})
	}
}
