package state

import (
	"hash/maphash"
	"math/bits"
)

// keyFilter is a Bloom filter of the keys of an in-memory segment. Most
// window reads are for windows not written yet (a windowed aggregation
// reads each new window before its first write): without a filter each
// such Get walks the segment's B-tree, a dozen or more key comparisons
// through the tree's less function, each a cache miss on a large segment;
// RocksDB answers the same read from its memtable's Bloom filter. A
// filter answers "absent" with one hash and one cache line.
//
// It is split-block (as Parquet's): a key sets one bit in each of the
// eight 32-bit words of one 32-byte block, chosen by its hash, at 16 bits
// per key (well under 1% false positives). Deletes leave their bits; the
// filter is rebuilt from the tree when it has taken twice the keys it was
// sized for, which also sheds the bits of deleted keys.
type keyFilter struct {
	seed   maphash.Seed
	blocks [][8]uint32
	added  int // keys added since the filter was sized
	limit  int // keys it was sized for
}

const (
	filterMinKeys    = 1024
	filterBitsPerKey = 16
)

var filterSalt = [8]uint32{0x47b6137b, 0x44974d91, 0x8824ad5b, 0xa2b7289d, 0x705495c7, 0x2df1424b, 0x9efc4947, 0x5c6bfb31}

func newKeyFilter(keys int) *keyFilter {
	keys = max(keys, filterMinKeys)
	return &keyFilter{seed: maphash.MakeSeed(), blocks: make([][8]uint32, keys*filterBitsPerKey/256), limit: keys}
}

func (f *keyFilter) locate(key []byte) (*[8]uint32, uint32) {
	h := maphash.Bytes(f.seed, key)
	hi, _ := bits.Mul64(h, uint64(len(f.blocks))) // h scaled to [0, blocks)
	return &f.blocks[hi], uint32(h)
}

func (f *keyFilter) add(key []byte) {
	b, x := f.locate(key)
	for i, s := range filterSalt {
		b[i] |= 1 << ((x * s) >> 27)
	}
	f.added++
}

func (f *keyFilter) mayContain(key []byte) bool {
	b, x := f.locate(key)
	for i, s := range filterSalt {
		if b[i]&(1<<((x*s)>>27)) == 0 {
			return false
		}
	}
	return true
}

// full reports whether the filter has taken twice the keys it was sized for.
func (f *keyFilter) full() bool { return f.added > 2*f.limit }
