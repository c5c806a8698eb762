package state

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"slices"
	"sort"

	"github.com/google/btree"
)

// timeOrder keeps a TimeOrderedBuffer's entries in (buffer time, key)
// order. A suppression of final results buffers every window under its
// end, so a few distinct times hold thousands of keys each: the entries are
// grouped by time, and a group is sorted by key only when it becomes the
// oldest (from which the buffer emits), rather than every entry paying
// its way into one B-tree of all entries, compared key by key, at each
// put. A group being emitted from stays sorted: a key put into it is
// inserted in place.
type timeOrder struct {
	groups *btree.BTreeG[*timeGroup]
	// last is the group the latest insert went to: puts come in runs of
	// one time.
	last *timeGroup
	// free is an emptied group, reused by the next new time.
	free *timeGroup
	// probe looks a time up without allocating.
	probe timeGroup
}

// timeGroup holds the entries of one buffer time: entries[head:], of
// which the ones no longer queued (taken out by a restored tombstone) are
// skipped. queued counts the others.
type timeGroup struct {
	time    int64
	entries []groupEntry
	head    int
	queued  int
	sorted  bool
}

func newTimeOrder() *timeOrder {
	return &timeOrder{groups: btree.NewG[*timeGroup](btreeDegree, func(a, b *timeGroup) bool { return a.time < b.time })}
}

// groupEntry is an entry with its key's first 8 bytes, which decide most
// comparisons of a sort without reading the entry and the key.
type groupEntry struct {
	prefix uint64
	e      *bufferEntry
}

func newGroupEntry(e *bufferEntry) groupEntry {
	var p [8]byte
	copy(p[:], e.key)
	return groupEntry{prefix: binary.BigEndian.Uint64(p[:]), e: e}
}

// compareKeys orders by key: a shorter key that is a prefix of a longer
// one sorts first, and zero bytes pad the prefix, so equal prefixes
// fall back to the keys.
func compareKeys(a, b groupEntry) int {
	if a.prefix != b.prefix {
		return cmp.Compare(a.prefix, b.prefix)
	}
	return bytes.Compare(a.e.key, b.e.key)
}

// insert queues e, which is not queued, under e.time.
func (o *timeOrder) insert(e *bufferEntry) {
	g := o.last
	if g == nil || g.time != e.time {
		var ok bool
		o.probe.time = e.time
		if g, ok = o.groups.Get(&o.probe); !ok {
			g = o.free
			o.free = nil
			if g == nil {
				g = &timeGroup{}
			}
			g.time = e.time
			o.groups.ReplaceOrInsert(g)
		}
		o.last = g
	}
	e.queued = true
	g.queued++
	ge := newGroupEntry(e)
	if !g.sorted {
		g.entries = append(g.entries, ge)
		return
	}
	rest := g.entries[g.head:]
	i := sort.Search(len(rest), func(i int) bool { return compareKeys(rest[i], ge) > 0 })
	g.entries = slices.Insert(g.entries, g.head+i, ge)
}

// min is the first queued entry, or nil.
func (o *timeOrder) min() *bufferEntry {
	g, ok := o.groups.Min()
	if !ok {
		return nil
	}
	if !g.sorted {
		// Drop what was dequeued, then sort what is left.
		rest := slices.DeleteFunc(g.entries[g.head:], func(ge groupEntry) bool { return !ge.e.queued })
		clear(g.entries[g.head+len(rest):])
		g.entries = g.entries[:g.head+len(rest)]
		slices.SortFunc(rest, compareKeys)
		g.sorted = true
	}
	for !g.entries[g.head].e.queued {
		g.entries[g.head] = groupEntry{}
		g.head++
	}
	return g.entries[g.head].e
}

// minTime is the oldest buffer time queued, and whether there is one.
func (o *timeOrder) minTime() (int64, bool) {
	g, ok := o.groups.Min()
	if !ok {
		return 0, false
	}
	return g.time, true
}

// deleteMin dequeues e, the entry min returned.
func (o *timeOrder) deleteMin(e *bufferEntry) {
	g, _ := o.groups.Min()
	g.entries[g.head] = groupEntry{}
	g.head++
	o.dequeued(g, e)
}

// delete dequeues e wherever it is; its group skips it later.
func (o *timeOrder) delete(e *bufferEntry) {
	o.probe.time = e.time
	g, ok := o.groups.Get(&o.probe)
	if !ok || !e.queued {
		return
	}
	o.dequeued(g, e)
}

func (o *timeOrder) dequeued(g *timeGroup, e *bufferEntry) {
	e.queued = false
	g.queued--
	if g.queued > 0 {
		// Keep a group emitted from little by little from growing.
		if g.head > 64 && g.head > len(g.entries)/2 {
			n := copy(g.entries, g.entries[g.head:])
			clear(g.entries[n:])
			g.entries, g.head = g.entries[:n], 0
		}
		return
	}
	o.groups.Delete(g)
	if o.last == g {
		o.last = nil
	}
	clear(g.entries)
	g.entries, g.head, g.sorted = g.entries[:0], 0, false
	o.free = g
}
