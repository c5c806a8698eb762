package state

import "hash/maphash"

// hashIndex finds entries of type E by their key bytes: an open-addressing
// table with linear probing, each slot an entry's 64-bit hash and pointer,
// and backward-shift deletion (no tombstones).
//
// The write-back buffer and the suppression buffer look a key up for
// every record, on data the CPU caches have mostly lost. A Go map of
// string keys touches its directory, group control word and slot, then
// the key bytes elsewhere in memory, and hashes and probes again to
// insert what a lookup missed. Here a lookup reads one slot (four to a
// cache line), the full hash rules out other keys before any key byte is
// read, and an insertion goes to the slot the lookup stopped at. Measured
// when each buffer had its own copy of this table: the write-back buffer's
// lookups fell from 8.0% to 4.6% of the cache-off word count's samples,
// and the suppression buffer's map work was about 3% of the hopping-window
// rows.
//
// The zero value is not ready: use newHashIndex.
type hashIndex[E any] struct {
	slots []hashSlot[E] // a power of two long, nil until the first insert
	n     int
	seed  maphash.Seed
	// same reports whether e's key is key; it is called only for the
	// entries whose hash matches.
	same func(e *E, key []byte) bool
	// weak replaces the hash in tests, to make keys collide.
	weak func([]byte) uint64
}

type hashSlot[E any] struct {
	h uint64
	e *E // nil: free
}

const minHashSlots = 64

// newHashIndex returns an empty index whose entries' keys same compares.
func newHashIndex[E any](same func(e *E, key []byte) bool) hashIndex[E] {
	return hashIndex[E]{seed: maphash.MakeSeed(), same: same}
}

func (x *hashIndex[E]) hash(key []byte) uint64 {
	if x.weak != nil {
		return x.weak(key)
	}
	return maphash.Bytes(x.seed, key)
}

// len is the number of entries indexed.
func (x *hashIndex[E]) len() int { return x.n }

// find returns key's entry, or nil and the slot where insertAt puts it
// (-1 when the table is not allocated yet), with key's hash.
func (x *hashIndex[E]) find(key []byte) (e *E, at int, h uint64) {
	h = x.hash(key)
	if x.slots == nil {
		return nil, -1, h
	}
	mask := len(x.slots) - 1
	for i := int(h) & mask; ; i = (i + 1) & mask {
		s := &x.slots[i]
		if s.e == nil {
			return nil, i, h
		}
		if s.h == h && x.same(s.e, key) {
			return s.e, i, h
		}
	}
}

// get is key's entry, or nil.
func (x *hashIndex[E]) get(key []byte) *E {
	e, _, _ := x.find(key)
	return e
}

// insertAt indexes e, whose key hashes to h and which find did not find,
// at the slot find returned, unless the table must grow first.
func (x *hashIndex[E]) insertAt(at int, h uint64, e *E) {
	if at < 0 || (x.n+1)*4 > len(x.slots)*3 { // at most 3/4 full
		x.grow()
		at = x.free(h)
	}
	x.slots[at] = hashSlot[E]{h: h, e: e}
	x.n++
}

// free is the first free slot of hash h's probe run.
func (x *hashIndex[E]) free(h uint64) int {
	mask := len(x.slots) - 1
	i := int(h) & mask
	for x.slots[i].e != nil {
		i = (i + 1) & mask
	}
	return i
}

// grow doubles the table (or makes its first one).
func (x *hashIndex[E]) grow() {
	old := x.slots
	x.slots = make([]hashSlot[E], max(2*len(old), minHashSlots))
	for _, s := range old {
		if s.e != nil {
			x.slots[x.free(s.h)] = s
		}
	}
}

// remove takes e, whose key hashes to h, out of the index if it is there
// (and not another entry of its key). The entries after it in its probe
// run move back into the hole when their home slot allows, so that no
// lookup stops early at an empty slot before its entry.
func (x *hashIndex[E]) remove(e *E, h uint64) {
	if x.n == 0 {
		return
	}
	mask := len(x.slots) - 1
	i := int(h) & mask
	for x.slots[i].e != e {
		if x.slots[i].e == nil {
			return
		}
		i = (i + 1) & mask
	}
	for j := (i + 1) & mask; x.slots[j].e != nil; j = (j + 1) & mask {
		home := int(x.slots[j].h) & mask
		// The entry at j stays when its home lies cyclically in (i, j]:
		// moved to i, a lookup starting at home would not reach it.
		if (i < j && i < home && home <= j) || (i > j && (home > i || home <= j)) {
			continue
		}
		x.slots[i] = x.slots[j]
		i = j
	}
	x.slots[i] = hashSlot[E]{}
	x.n--
}

// each calls fn with every entry, in no order; fn must not change the
// index (a removal moves entries, which the pass would then skip or see
// twice: collect them first).
func (x *hashIndex[E]) each(fn func(*E)) {
	if x.n == 0 {
		return
	}
	for _, s := range x.slots {
		if s.e != nil {
			fn(s.e)
		}
	}
}

// clear empties the index, keeping its table for the entries to come.
func (x *hashIndex[E]) clear() {
	clear(x.slots)
	x.n = 0
}

// release empties the index and lets its table go.
func (x *hashIndex[E]) release() {
	x.slots, x.n = nil, 0
}
