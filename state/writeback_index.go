package state

import "hash/maphash"

// wbIndex finds the write-back buffer's entries by key: an open-addressing
// table of each entry's hash and pointer, probed linearly, with
// backward-shift deletion (no tombstones).
//
// It replaces a map[string]*pendingValue. A table store without the
// record cache reads its buffer once per record, and with the buffers of a
// thread's tasks, the broker client's and the fetched batches all in play,
// each lookup misses the CPU caches: a Go map touches its directory, the
// table, the group's control word and slot, then the key bytes and the
// entry, about 6% of the cache-off word count's CPU. Here a lookup reads
// one slot (four to a cache line, the hash compared before any key), then
// the entry and its key.
type wbIndex struct {
	seed  maphash.Seed
	slots []wbSlot // a power of two long; nil until the first insert
	n     int
}

type wbSlot struct {
	h uint64
	p *pendingValue // nil: free
}

func newWBIndex() wbIndex { return wbIndex{seed: maphash.MakeSeed()} }

func (x *wbIndex) hash(key []byte) uint64 { return maphash.Bytes(x.seed, key) }

func (x *wbIndex) len() int { return x.n }

// lookup returns the entry of key (nil when there is none) and key's hash.
func (x *wbIndex) lookup(key []byte) (*pendingValue, uint64) {
	h := x.hash(key)
	return x.lookupHashed(key, h), h
}

// lookupHashed returns the entry of key, whose hash is h.
func (x *wbIndex) lookupHashed(key []byte, h uint64) *pendingValue {
	if x.n == 0 {
		return nil
	}
	mask := uint64(len(x.slots) - 1)
	for i := h & mask; ; i = (i + 1) & mask {
		s := &x.slots[i]
		if s.p == nil {
			return nil
		}
		if s.h == h && s.p.k == string(key) {
			return s.p
		}
	}
}

// insert adds p, whose key is not in the index and whose hash is p.h.
func (x *wbIndex) insert(p *pendingValue) {
	if (x.n+1)*4 > len(x.slots)*3 { // at most 3/4 full
		x.grow()
	}
	x.place(p)
	x.n++
}

func (x *wbIndex) place(p *pendingValue) {
	mask := uint64(len(x.slots) - 1)
	i := p.h & mask
	for x.slots[i].p != nil {
		i = (i + 1) & mask
	}
	x.slots[i] = wbSlot{h: p.h, p: p}
}

func (x *wbIndex) grow() {
	old := x.slots
	x.slots = make([]wbSlot, max(2*len(old), 64))
	for _, s := range old {
		if s.p != nil {
			x.place(s.p)
		}
	}
}

// remove takes p out of the index; it must be in it. The entries after it
// in its run move back into the hole when their home slot allows, so that
// lookups never stop early at it.
func (x *wbIndex) remove(p *pendingValue) {
	mask := uint64(len(x.slots) - 1)
	i := p.h & mask
	for x.slots[i].p != p {
		i = (i + 1) & mask
	}
	for j := (i + 1) & mask; x.slots[j].p != nil; j = (j + 1) & mask {
		home := x.slots[j].h & mask
		// The entry at j stays when its home lies cyclically in (i, j]:
		// moved to i, a lookup starting at home would not reach it.
		if (i < j && i < home && home <= j) || (i > j && (home > i || home <= j)) {
			continue
		}
		x.slots[i] = x.slots[j]
		i = j
	}
	x.slots[i] = wbSlot{}
	x.n--
}

// each calls fn with every entry, in no order; fn must not change the
// index.
func (x *wbIndex) each(fn func(*pendingValue)) {
	if x.n == 0 {
		return
	}
	for _, s := range x.slots {
		if s.p != nil {
			fn(s.p)
		}
	}
}

// clear empties the index, keeping its table for the entries to come.
func (x *wbIndex) clear() {
	clear(x.slots)
	x.n = 0
}

// release empties the index and lets its table go (a closed buffer).
func (x *wbIndex) release() {
	x.slots, x.n = nil, 0
}
