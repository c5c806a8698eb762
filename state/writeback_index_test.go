package state

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// The write-back index against a map, through random inserts and removes.
// Hashes are drawn from a few values, so that runs are long, wrap around
// the table's end and mix entries of different home slots, which is where
// a backward-shift deletion can lose an entry or stop a lookup early.
func TestWriteBackIndexMatchesModel(t *testing.T) {
	for _, hashes := range []uint64{3, 17, 1 << 62} {
		rng := rand.New(rand.NewPCG(1, hashes))
		x := newWBIndex()
		model := map[string]*pendingValue{}
		hashOf := func(k string) uint64 {
			if hashes == 1<<62 {
				return x.hash([]byte(k))
			}
			// Homes near the end of the table, to wrap around.
			return uint64(len(k))*uint64(0x9e3779b97f4a7c15)%hashes + 60
		}
		check := func(step int) {
			t.Helper()
			if x.len() != len(model) {
				t.Fatalf("hashes %d step %d: index holds %d entries, model %d", hashes, step, x.len(), len(model))
			}
			seen := 0
			x.each(func(p *pendingValue) {
				if model[p.k] != p {
					t.Fatalf("hashes %d step %d: index holds %q, which the model does not", hashes, step, p.k)
				}
				seen++
			})
			if seen != len(model) {
				t.Fatalf("hashes %d step %d: a pass saw %d entries, want %d", hashes, step, seen, len(model))
			}
			for k, p := range model {
				if got := x.lookupHashed([]byte(k), hashOf(k)); got != p {
					t.Fatalf("hashes %d step %d: lookup of %q found %v, want its entry", hashes, step, k, got)
				}
			}
		}
		for step := 0; step < 3000; step++ {
			k := fmt.Sprint(rng.IntN(200))
			if hashes != 1<<62 {
				k = fmt.Sprintf("%0*d", 1+rng.IntN(40), rng.IntN(5)) // hash by length
			}
			if p := model[k]; p != nil && rng.IntN(2) == 0 {
				x.remove(p)
				delete(model, k)
			} else if p == nil {
				p = &pendingValue{k: k, h: hashOf(k)}
				x.insert(p)
				model[k] = p
			}
			if x.lookupHashed([]byte(k+"?"), hashOf(k+"?")) != nil {
				t.Fatalf("hashes %d step %d: lookup of an absent key found an entry", hashes, step)
			}
			if step%97 == 0 || step > 2900 {
				check(step)
			}
			if step == 1500 {
				x.clear()
				clear(model)
				check(step)
			}
		}
	}
}
