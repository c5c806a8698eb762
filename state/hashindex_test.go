package state

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

type indexedKey struct{ k string }

// The hash index agrees with a map through random finds, inserts and
// removals, across growth and a clear, with the real hash and with hashes
// so weak that keys share long probe runs that wrap around the table's end
// and mix entries of different home slots: that is where backward-shift
// deletion can lose an entry or make a lookup stop early.
func TestHashIndexMatchesMap(t *testing.T) {
	for name, weak := range map[string]func([]byte) uint64{
		"maphash":       nil,
		"homes-at-end":  func(k []byte) uint64 { return uint64(len(k)%4) + 60 },
		"last-byte":     func(k []byte) uint64 { return uint64(k[len(k)-1]) },
		"by-length-mod": func(k []byte) uint64 { return uint64(len(k))*0x9e3779b97f4a7c15%17 + 60 },
	} {
		t.Run(name, func(t *testing.T) {
			x := newHashIndex(func(e *indexedKey, key []byte) bool { return e.k == string(key) })
			x.weak = weak
			model := map[string]*indexedKey{}
			check := func(step int) {
				t.Helper()
				if x.len() != len(model) {
					t.Fatalf("step %d: %d entries, want %d", step, x.len(), len(model))
				}
				seen := 0
				x.each(func(e *indexedKey) {
					if model[e.k] != e {
						t.Fatalf("step %d: the index holds %q, which the model does not", step, e.k)
					}
					seen++
				})
				if seen != len(model) {
					t.Fatalf("step %d: a pass saw %d entries, want %d", step, seen, len(model))
				}
				for k, e := range model {
					if x.get([]byte(k)) != e {
						t.Fatalf("step %d: %q not found", step, k)
					}
				}
			}
			rng := rand.New(rand.NewPCG(3, 9))
			grown := false
			for step := range 20000 {
				key := fmt.Appendf(nil, "k%0*d", rng.IntN(12), rng.IntN(300))
				e, at, h := x.find(key)
				if want := model[string(key)]; e != want {
					t.Fatalf("step %d: find %s = %p, want %p", step, key, e, want)
				}
				switch {
				case e == nil:
					e = &indexedKey{k: string(key)}
					x.insertAt(at, h, e)
					model[string(key)] = e
				case rng.IntN(3) > 0:
					x.remove(e, h)
					delete(model, string(key))
					x.remove(e, h) // gone already: nothing happens
				}
				if x.get(append(key, '?')) != nil {
					t.Fatalf("step %d: a lookup of an absent key found an entry", step)
				}
				grown = grown || len(x.slots) > minHashSlots
				if step%500 == 0 || step > 19900 {
					check(step)
				}
				if step == 10000 {
					x.clear()
					clear(model)
					check(step)
				}
			}
			if !grown {
				t.Errorf("the index never grew (%d slots)", len(x.slots))
			}
			x.release()
			if x.get([]byte("k1")) != nil || x.len() != 0 {
				t.Error("a released index still finds entries")
			}
		})
	}
}
