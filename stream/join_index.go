package stream

import (
	"math"

	"github.com/kafki/kafki/state"
)

// A stream-stream join probes the other side's window store for every
// record and, for left and outer joins, reads its outer store whenever a
// non-joined record may be due. With few partners per probe the per-probe
// fixed cost of a store read dominates: a merged iterator over the
// write-back buffer's B-tree and a RocksDB iterator (several cgo calls) per
// time segment. The join is the only writer of its three stores, so it
// keeps in memory what it wrote since Init, within a byte budget, and
// answers from there the reads that it can answer exactly; the stores
// still get every write (and their changelogs every record), and the
// reads it cannot answer exactly go to them as before.

// Budgets of the in-memory copies, per store of a join processor (per
// task). Past them a copy is dropped and the reads go to the store again
// (see reset). Variables for the tests only.
// 4 MiB holds about 40,000 records of 30-byte values: at 5 s windows,
// 8,000 records a second per task and side.
var (
	joinIndexMaxBytes   = 4 << 20
	outerMirrorMaxBytes = 2 << 20
)

const (
	// What one record costs besides its key and value bytes: slice
	// entry, FIFO entry, and for a new key the map slot and header.
	joinRecOverhead = 48
	joinKeyOverhead = 80
	// joinSlabBytes is the block the index copies values into.
	joinSlabBytes = 4096
)

// segmentTimes is what the window stores of package state tell about
// their time segments (ms).
type segmentTimes interface {
	ObservedStreamTime() int64
	SegmentInterval() int64
	Retention() int64
}

// storeTimes finds the segment times of a window store under the layers
// that wrap it (logging), or reports that it has none.
func storeTimes(s state.Store) (segmentTimes, bool) {
	for range 16 {
		if t, ok := s.(segmentTimes); ok {
			return t, true
		}
		u, ok := s.(interface{ Unwrap() state.Store })
		if !ok {
			return nil, false
		}
		s = u.Unwrap()
	}
	return nil, false
}

// joinIndex holds in memory the records a join put into one of its window
// stores since Init, by key. It answers a probe exactly as the store
// would (same records, same order) when every record the store could
// return for it was put since Init: when the probe's range starts at or
// above from. Below from, the store holds records put before Init (a
// restored or reopened store) or records the index dropped, and the probe
// reads the store.
type joinIndex struct {
	byKey map[string]*joinRecs
	// fifo lists the records in the order they were put, so that the
	// oldest are dropped once no probe can return them any more.
	fifo  []joinFIFO
	head  int
	bytes int
	max   int
	// from: every record put since Init with a timestamp at or above it
	// is here, unless no probe can return it any more.
	from int64
	// maxTs is the largest timestamp the store may hold.
	maxTs int64
	// observed and retention mirror the store's: a record older than
	// observed-retention+1 has expired and the store returns it no more.
	observed, retention int64
	scratch             []joinRec
	slab                []byte
}

type joinRecs struct {
	key  string
	recs []joinRec // in the order they were put
}

type joinRec struct {
	ts int64
	v  []byte // never modified
}

type joinFIFO struct {
	recs *joinRecs
	ts   int64
}

// newJoinIndex returns the index of window store ws, or nil when ws does
// not tell its segment times (a store of another implementation) or the
// budget is 0: the join then reads the store.
func newJoinIndex(ws state.WindowStore, maxBytes int) *joinIndex {
	t, ok := storeTimes(ws)
	if !ok || maxBytes <= 0 {
		return nil
	}
	ix := &joinIndex{byKey: map[string]*joinRecs{}, max: maxBytes, observed: t.ObservedStreamTime(), retention: t.Retention(),
		from: math.MinInt64, maxTs: math.MinInt64}
	if ix.observed != math.MinInt64 {
		// The store holds records: after a restore, none later than the
		// stream time it observed; reopened from disk, it knows only its
		// newest segment's start, and none is later than that segment.
		ix.maxTs = satAdd(ix.observed, t.SegmentInterval()-1)
		ix.from = satAdd(ix.maxTs, 1)
	}
	return ix
}

func satAdd(a, b int64) int64 {
	if b > 0 && a > math.MaxInt64-b {
		return math.MaxInt64
	}
	if b < 0 && a < math.MinInt64-b {
		return math.MinInt64
	}
	return a + b
}

// minLive is the oldest timestamp the store still returns, as its segments
// compute it.
func (ix *joinIndex) minLive() int64 {
	if ix.observed == math.MinInt64 || ix.observed-ix.retention+1 > ix.observed {
		return math.MinInt64
	}
	return ix.observed - ix.retention + 1
}

// put records what the join put into the store: key kb, value v, at ts.
func (ix *joinIndex) put(kb, v []byte, ts int64) {
	ix.observed = max(ix.observed, ts)
	ix.maxTs = max(ix.maxTs, ts)
	if ts < ix.from || ts < ix.minLive() {
		return // the store dropped it as expired, or probes of it read the store
	}
	r := ix.byKey[string(kb)]
	if r == nil {
		r = &joinRecs{key: string(kb)}
		ix.byKey[r.key] = r
		ix.bytes += len(kb) + joinKeyOverhead
	}
	r.recs = append(r.recs, joinRec{ts: ts, v: ix.keep(v)})
	ix.fifo = append(ix.fifo, joinFIFO{recs: r, ts: ts})
	ix.bytes += len(v) + joinRecOverhead
	if ix.bytes > ix.max {
		ix.reset()
	}
}

// keep copies v into the slab: the caller's slice may be the record's own
// (serde.Bytes), which the topology downstream may still change.
func (ix *joinIndex) keep(v []byte) []byte {
	if len(v) > cap(ix.slab)-len(ix.slab) {
		if len(v) > joinSlabBytes/4 {
			return append(make([]byte, 0, len(v)), v...)
		}
		ix.slab = make([]byte, 0, joinSlabBytes)
	}
	n := len(ix.slab)
	ix.slab = append(ix.slab, v...)
	return ix.slab[n:len(ix.slab):len(ix.slab)]
}

// reset drops everything: the index then answers only probes of records
// put from now on, all later than any put so far.
func (ix *joinIndex) reset() {
	clear(ix.byKey)
	clear(ix.fifo)
	ix.fifo, ix.head, ix.bytes = ix.fifo[:0], 0, 0
	ix.from = satAdd(ix.maxTs, 1)
}

// probe returns the records of key kb with timestamps in [lo, hi] that
// the store returns and that are not dead (dead: the join would drop the
// record as closed), in the store's order: by timestamp, then in the order
// they were put. ok is false when the index cannot answer: the caller
// reads the store. The result is valid until the next call.
func (ix *joinIndex) probe(kb []byte, lo, hi int64, dead func(ts int64) bool) (recs []joinRec, ok bool) {
	if ix == nil || lo < ix.from {
		return nil, false
	}
	r := ix.byKey[string(kb)]
	if r == nil {
		return nil, true
	}
	lo = max(lo, ix.minLive())
	out := ix.scratch[:0]
	for _, e := range r.recs {
		if e.ts >= lo && e.ts <= hi && !dead(e.ts) {
			out = append(out, e)
		}
	}
	// Stable insertion sort by timestamp: records mostly come in order.
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && out[j].ts < out[j-1].ts; j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	ix.scratch = out
	return out, true
}

// evict drops the records that no probe can return any more, oldest put
// first: dead ones (the join's window of them has closed) and expired ones.
// Both only grow with stream time, so a record dropped is never missed.
func (ix *joinIndex) evict(dead func(ts int64) bool) {
	if ix == nil {
		return
	}
	ml := ix.minLive()
	gone := func(ts int64) bool { return ts < ml || dead(ts) }
	for ix.head < len(ix.fifo) && gone(ix.fifo[ix.head].ts) {
		ix.prune(ix.fifo[ix.head].recs, gone)
		ix.fifo[ix.head] = joinFIFO{}
		ix.head++
	}
	if ix.head == len(ix.fifo) {
		ix.fifo, ix.head = ix.fifo[:0], 0
	} else if ix.head > 1024 && ix.head > len(ix.fifo)/2 {
		n := copy(ix.fifo, ix.fifo[ix.head:])
		clear(ix.fifo[n:])
		ix.fifo, ix.head = ix.fifo[:n], 0
	}
}

// prune drops the leading gone records of one key, and the key when none
// is left. Only the leading ones: the record whose FIFO entry is popped is
// gone, and so is every record of the key put before it (their entries
// were popped first, when gone), so the trim reaches it; a gone record put
// after a live one (out of order) goes when its own entry is popped. The
// cost stays constant per record however many a hot key holds.
func (ix *joinIndex) prune(r *joinRecs, gone func(ts int64) bool) {
	n := 0
	for n < len(r.recs) && gone(r.recs[n].ts) {
		ix.bytes -= len(r.recs[n].v) + joinRecOverhead
		r.recs[n] = joinRec{}
		n++
	}
	r.recs = r.recs[n:]
	if len(r.recs) == 0 && ix.byKey[r.key] == r {
		delete(ix.byKey, r.key)
		ix.bytes -= len(r.key) + joinKeyOverhead
	}
}

// outerMirror holds the keys of the outer store once it has read them
// all: the join then knows which entries are due, and which joined
// partners wait in the store, without reading it. A record of side S is
// due once its timestamp is below S's cut (stream time less S's reach and
// the grace), so the due entries of each side are the lowest of that side;
// each side keeps its keys in a min-heap by (timestamp, key), and the due
// entries of both sides are merged in the store's key order.
type outerMirror struct {
	live  map[outerEnt]struct{}
	heaps [2]outerHeap // [0]: left, [1]: right
	bytes int
}

type outerEnt struct {
	ts    int64
	right bool
	key   string
}

// outerBefore orders as outerKey's bytes do: timestamp, the right side
// first, key bytes.
func outerBefore(a, b outerEnt) bool {
	if a.ts != b.ts {
		return a.ts < b.ts
	}
	if a.right != b.right {
		return a.right
	}
	return a.key < b.key
}

func newOuterMirror() *outerMirror {
	return &outerMirror{live: map[outerEnt]struct{}{}}
}

func sideOf(right bool) int {
	if right {
		return 1
	}
	return 0
}

// add records an entry; false: past its budget, the mirror must go.
func (m *outerMirror) add(e outerEnt) bool {
	if _, ok := m.live[e]; !ok {
		m.live[e] = struct{}{}
		// A key deleted and put again may have a stale copy in the
		// heap: the first copy popped stands for the entry.
		m.heaps[sideOf(e.right)].push(e)
		m.bytes += 2 * (len(e.key) + joinKeyOverhead)
	}
	return m.bytes <= outerMirrorMaxBytes
}

// remove drops an entry and reports whether it was there. Its heap copy
// stays until popped.
func (m *outerMirror) remove(e outerEnt) bool {
	if _, ok := m.live[e]; ok {
		delete(m.live, e)
		return true
	}
	return false
}

// head returns the lowest live entry of a side, dropping stale copies.
func (m *outerMirror) head(side int) (outerEnt, bool) {
	h := &m.heaps[side]
	for len(*h) > 0 {
		e := (*h)[0]
		if _, ok := m.live[e]; ok {
			return e, true
		}
		h.pop()
		m.bytes -= 2 * (len(e.key) + joinKeyOverhead)
	}
	return outerEnt{}, false
}

// popDue removes and returns the next due entry in the store's order:
// the lower of the two sides' lowest entries whose timestamps are below
// their side's cut.
func (m *outerMirror) popDue(cutLeft, cutRight int64) (outerEnt, bool) {
	l, okL := m.head(0)
	okL = okL && l.ts < cutLeft
	r, okR := m.head(1)
	okR = okR && r.ts < cutRight
	var e outerEnt
	switch {
	case okL && okR:
		e = l
		if outerBefore(r, l) {
			e = r
		}
	case okL:
		e = l
	case okR:
		e = r
	default:
		return outerEnt{}, false
	}
	m.heaps[sideOf(e.right)].pop()
	delete(m.live, e)
	m.bytes -= 2 * (len(e.key) + joinKeyOverhead)
	return e, true
}

// outerHeap is a binary min-heap by (timestamp, key) of one side's keys.
type outerHeap []outerEnt

func (h *outerHeap) push(e outerEnt) {
	*h = append(*h, e)
	s := *h
	for i := len(s) - 1; i > 0; {
		p := (i - 1) / 2
		if !outerBefore(s[i], s[p]) {
			break
		}
		s[i], s[p] = s[p], s[i]
		i = p
	}
}

func (h *outerHeap) pop() {
	s := *h
	n := len(s) - 1
	s[0] = s[n]
	s[n] = outerEnt{}
	s = s[:n]
	for i := 0; ; {
		c := 2*i + 1
		if c >= n {
			break
		}
		if c+1 < n && outerBefore(s[c+1], s[c]) {
			c++
		}
		if !outerBefore(s[c], s[i]) {
			break
		}
		s[i], s[c] = s[c], s[i]
		i = c
	}
	*h = s
}
