package state

import (
	"bytes"
	"fmt"
	"math/rand"
	"testing"
)

// A segment with a key filter answers every read as one without, through
// puts, overwrites, deletes and the filter's rebuilds, and the filter
// turns away nearly every absent key.
func TestFilteredSegmentAnswersAsTree(t *testing.T) {
	rnd := rand.New(rand.NewSource(7))
	filtered, plain := newFilteredMemKV("f"), newMemKV("p")
	key := func(i int) []byte { return []byte(fmt.Sprintf("key-%07d", i)) }
	const keys = 20_000 // past filterMinKeys several times: rebuilds
	for i := 0; i < 60_000; i++ {
		k := key(rnd.Intn(keys))
		var v []byte
		if rnd.Intn(5) != 0 {
			v = []byte(fmt.Sprint(i))
		}
		for _, s := range []*memKV{filtered, plain} {
			if err := s.Put(k, v); err != nil {
				t.Fatal(err)
			}
		}
		if i%7 == 0 {
			if _, err := filtered.Delete(k); err != nil {
				t.Fatal(err)
			}
			if _, err := plain.Delete(k); err != nil {
				t.Fatal(err)
			}
		}
	}
	for i := 0; i < keys; i++ {
		a, err1 := filtered.Get(key(i))
		b, err2 := plain.Get(key(i))
		if err1 != nil || err2 != nil || !bytes.Equal(a, b) || (a == nil) != (b == nil) {
			t.Fatalf("key %d: filtered %q (%v), plain %q (%v)", i, a, err1, b, err2)
		}
	}
	passed := 0
	for i := keys; i < 2*keys; i++ {
		if filtered.filter.mayContain(key(i)) {
			passed++
		}
		if v, err := filtered.Get(key(i)); v != nil || err != nil {
			t.Fatalf("absent key %d: %q, %v", i, v, err)
		}
	}
	if passed > keys/50 {
		t.Errorf("the filter let %d of %d absent keys through, want under 2%%", passed, keys)
	}
}
