package state

import (
	"bytes"
	"hash/maphash"
)

// keyIndex finds a TimeOrderedBuffer's entries by key: an open-addressing
// hash table with linear probing, each slot a key's hash and its entry.
// A suppression buffer looks a key up for every update, inserts it when
// new and takes it out when emitted; a Go map of string keys does that
// with a lookup and a second probe to insert, and reads each candidate's
// key bytes, elsewhere in memory, to compare. Here an insertion goes to
// the slot its lookup stopped at, and a slot's full 64-bit hash rules out
// all but the entry sought before any key is read.
type keyIndex struct {
	slots []indexSlot // a power of two long; an empty slot has no entry
	n     int
	seed  maphash.Seed
	// weak replaces the hash in tests, to make keys collide.
	weak func([]byte) uint64
}

type indexSlot struct {
	hash uint64
	e    *bufferEntry
}

const minIndexSlots = 64

func newKeyIndex() *keyIndex {
	return &keyIndex{slots: make([]indexSlot, minIndexSlots), seed: maphash.MakeSeed()}
}

// len is the number of entries indexed.
func (x *keyIndex) len() int { return x.n }

func (x *keyIndex) hash(key []byte) uint64 {
	if x.weak != nil {
		return x.weak(key)
	}
	return maphash.Bytes(x.seed, key)
}

// find returns key's entry, or nil and where insertAt puts it.
func (x *keyIndex) find(key []byte) (e *bufferEntry, at int, h uint64) {
	h = x.hash(key)
	mask := len(x.slots) - 1
	for i := int(h) & mask; ; i = (i + 1) & mask {
		s := &x.slots[i]
		if s.e == nil {
			return nil, i, h
		}
		if s.hash == h && bytes.Equal(s.e.key, key) {
			return s.e, i, h
		}
	}
}

// get is key's entry, or nil.
func (x *keyIndex) get(key []byte) *bufferEntry {
	e, _, _ := x.find(key)
	return e
}

// insertAt indexes e, whose key hashes to h and which find did not find,
// at the slot find returned (unless the table must grow first).
func (x *keyIndex) insertAt(at int, h uint64, e *bufferEntry) {
	if (x.n+1)*4 > len(x.slots)*3 {
		x.grow()
		mask := len(x.slots) - 1
		at = int(h) & mask
		for x.slots[at].e != nil {
			at = (at + 1) & mask
		}
	}
	x.slots[at] = indexSlot{hash: h, e: e}
	x.n++
}

// grow doubles the table.
func (x *keyIndex) grow() {
	old := x.slots
	x.slots = make([]indexSlot, 2*len(old))
	mask := len(x.slots) - 1
	for _, s := range old {
		if s.e == nil {
			continue
		}
		i := int(s.hash) & mask
		for x.slots[i].e != nil {
			i = (i + 1) & mask
		}
		x.slots[i] = s
	}
}

// remove takes e out of the index, if it is there (not another entry of
// its key).
func (x *keyIndex) remove(e *bufferEntry) {
	mask := len(x.slots) - 1
	i := int(x.hash(e.key)) & mask
	for x.slots[i].e != e {
		if x.slots[i].e == nil {
			return
		}
		i = (i + 1) & mask
	}
	// Backward-shift deletion: move up each later entry of the probe run
	// whose home slot is not between the hole and itself, so that no
	// lookup meets an empty slot before its entry.
	for j := i; ; {
		x.slots[i] = indexSlot{}
		for {
			j = (j + 1) & mask
			s := x.slots[j]
			if s.e == nil {
				x.n--
				return
			}
			home := int(s.hash) & mask
			// s may fill the hole at i unless home is cyclically in (i, j].
			if (i < j && (home <= i || home > j)) || (i > j && home <= i && home > j) {
				x.slots[i] = s
				i = j
				break
			}
		}
	}
}
