package state

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// The buffer's key index agrees with a map through random inserts and
// removals, including with a hash so weak that keys share long probe runs
// that wrap around the table's end (which backward-shift deletion must
// keep reachable), and across growth.
func TestKeyIndexMatchesMap(t *testing.T) {
	for _, weak := range []func([]byte) uint64{
		nil,
		func(k []byte) uint64 { return uint64(len(k)%4) + 60 }, // a few homes near the end of 64 slots
		func(k []byte) uint64 { return uint64(k[len(k)-1]) },
	} {
		x := newKeyIndex()
		x.weak = weak
		model := map[string]*bufferEntry{}
		rng := rand.New(rand.NewPCG(3, 9))
		for step := range 20000 {
			key := fmt.Appendf(nil, "k%d", rng.IntN(300))
			e, at, h := x.find(key)
			if want := model[string(key)]; e != want {
				t.Fatalf("step %d: find %s = %p, want %p", step, key, e, want)
			}
			switch {
			case e == nil:
				e = &bufferEntry{key: key}
				x.insertAt(at, h, e)
				model[string(key)] = e
			case rng.IntN(3) > 0:
				x.remove(e)
				delete(model, string(key))
				x.remove(e) // gone already: nothing happens
			}
			if x.len() != len(model) {
				t.Fatalf("step %d: %d entries, want %d", step, x.len(), len(model))
			}
			if step%500 == 0 {
				for k, e := range model {
					if x.get([]byte(k)) != e {
						t.Fatalf("step %d: %s not found", step, k)
					}
				}
			}
		}
		if len(x.slots) <= minIndexSlots {
			t.Errorf("the index never grew (%d slots)", len(x.slots))
		}
	}
}
