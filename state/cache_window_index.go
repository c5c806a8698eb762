package state

import (
	"bytes"
	"slices"
	"unsafe"
)

// windowIndex is the window cache's second index over the record cache's
// entries: by key, then window start. An update of a hopping window reads
// and writes each of the several windows of its key; looking the key up
// once (and then not at all while the next updates are of the same key)
// instead of hashing every window's encoding saves most of the cache's
// index lookups, which are memory-bound on a large cache. It follows the
// record cache through its added and dropped hooks, under its lock.
type windowIndex struct {
	byKey map[string]*keyWindows
	last  *keyWindows // the key found last
	// unindexed counts entries whose key is not a window key: lookups
	// that miss here must then also ask the record cache's index.
	unindexed int
}

// keyWindows are the cached windows of one key.
type keyWindows struct {
	key  []byte
	wins []windowRef
}

type windowRef struct {
	start int64
	e     *cacheEntry
}

func newWindowIndex() *windowIndex {
	return &windowIndex{byKey: map[string]*keyWindows{}}
}

// windows returns the cached windows of key, or nil.
func (x *windowIndex) windows(key []byte) *keyWindows {
	if l := x.last; l != nil && bytes.Equal(l.key, key) {
		return l
	}
	k := x.byKey[string(key)]
	if k != nil {
		x.last = k
	}
	return k
}

// find returns the entry of key's window at start, or nil.
func (x *windowIndex) find(key []byte, start int64) *cacheEntry {
	k := x.windows(key)
	if k == nil {
		return nil
	}
	// Newest first: windows are added as stream time moves on, and
	// updates go to the latest ones, so a key with many cached windows
	// (small windows, long retention) still finds its current one at once.
	for i := len(k.wins) - 1; i >= 0; i-- {
		if k.wins[i].start == start {
			return k.wins[i].e
		}
	}
	return nil
}

func (x *windowIndex) add(e *cacheEntry) {
	key, start, _, err := DecodeWindowKey(e.key)
	if err != nil {
		x.unindexed++
		return
	}
	k := x.windows(key)
	if k == nil {
		k = &keyWindows{key: bytes.Clone(key)}
		// k.key is never modified: the map shares its bytes.
		x.byKey[unsafe.String(unsafe.SliceData(k.key), len(k.key))] = k
		x.last = k
	}
	k.wins = append(k.wins, windowRef{start: start, e: e})
	e.win = k
}

// drop removes e. It leaves last alone: the cache evicts while it writes
// another key's windows, whose next lookup then still finds it there.
func (x *windowIndex) drop(e *cacheEntry) {
	k := e.win
	if k == nil {
		x.unindexed--
		return
	}
	e.win = nil
	if i := slices.IndexFunc(k.wins, func(w windowRef) bool { return w.e == e }); i >= 0 {
		k.wins = slices.Delete(k.wins, i, i+1)
	}
	if len(k.wins) == 0 {
		delete(x.byKey, string(k.key))
		if x.last == k {
			x.last = nil
		}
	}
}
