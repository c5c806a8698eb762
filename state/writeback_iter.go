package state

import (
	"bytes"

	"github.com/google/btree"
)

// Scans of the write-back buffer: the buffered entries of the range, in key
// order, merged with the engine's. A scan used to write the buffer to the
// engine first, which a store scanned on every record (a stream-stream
// join's window stores, its outer store) paid as one engine write per
// record. The buffer's keys are ordered in a B-tree built on the first scan
// and kept while the buffer is scanned.
//
// Like the in-memory engine and the record cache, the iterator reads the
// buffer in chunks and is weakly consistent: it may see writes made after
// it was opened, at keys it has not reached. A write of the buffer to the
// engine while it is open (a commit's flush, from another goroutine for an
// interactive query) moves entries it has not reached into the engine,
// behind its engine iterator's snapshot: it then reopens the engine
// iterator past the last key it returned.

func pendingLess(a, b *pendingValue) bool { return a.k < b.k }

// ensureTreeLocked orders the buffered keys for scans.
func (w *writeBack) ensureTreeLocked() {
	if w.tree != nil {
		return
	}
	w.tree = btree.NewG[*pendingValue](btreeDegree, pendingLess)
	w.pending.each(func(p *pendingValue) { w.tree.ReplaceOrInsert(p) })
}

// merged scans keys from lo (inclusive, nil = open) to hi (inclusive when
// hiIncl, else exclusive; nil = open).
func (w *writeBack) merged(lo, hi []byte, hiIncl, reverse bool) (KeyValueIterator, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return nil, ErrClosed
	}
	under, err := w.inner.Scan(lo, hi, hiIncl, reverse)
	if err != nil || w.pending.len() == 0 {
		// Nothing buffered: what is written from now on comes after
		// the iterator was opened, which it need not see.
		return under, err
	}
	w.ensureTreeLocked()
	it := &wbMergeIter{w: w, lo: lo, hi: hi, hiIncl: hiIncl, gen: w.gen,
		cur: wbCursor{w: w, chunkReader: chunkReader{chunkBounds: chunkBounds{lo: lo, hi: hi, hiIncl: hiIncl, reverse: reverse}, chunk: 8}}}
	it.merge = kvMerge{over: &it.cur, under: under, reverse: reverse, underOK: under.Next()}
	return it, nil
}

type wbMergeIter struct {
	w          *writeBack
	lo, hi     []byte
	hiIncl     bool
	cur        wbCursor
	merge      kvMerge
	gen        uint64 // the buffer's drain count when merge.under was opened
	returned   bool
	last       []byte // the last key returned
	key, value []byte
	err        error
	closed     bool
}

// reopenLocked reopens the engine iterator past the last key returned,
// after a drain moved buffered entries into the engine.
func (it *wbMergeIter) reopenLocked() error {
	m := &it.merge
	m.under.Close()
	lo, hi, hiIncl := it.lo, it.hi, it.hiIncl
	if it.returned {
		if m.reverse {
			hi, hiIncl = it.last, false
		} else {
			lo = it.last
		}
	}
	under, err := it.w.inner.Scan(lo, hi, hiIncl, m.reverse)
	if err != nil {
		m.under = emptyIter{}
		return err
	}
	m.under, it.gen, m.advance = under, it.w.gen, false
	m.underOK = under.Next()
	if m.underOK && it.returned && !m.reverse && bytes.Equal(under.Key(), it.last) {
		m.underOK = under.Next()
	}
	return nil
}

func (it *wbMergeIter) Next() bool {
	if it.closed || it.err != nil {
		return false
	}
	w := it.w
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		it.err = ErrClosed
		return false
	}
	if w.gen != it.gen {
		if it.err = it.reopenLocked(); it.err != nil {
			w.mu.Unlock()
			return false
		}
	}
	w.mu.Unlock()
	var ok bool
	if it.key, it.value, ok, it.err = it.merge.next(); !ok {
		return false
	}
	it.returned = true
	it.last = append(it.last[:0], it.key...)
	return true
}

func (it *wbMergeIter) Key() []byte   { return it.key }
func (it *wbMergeIter) Value() []byte { return it.value }
func (it *wbMergeIter) Err() error    { return it.err }

func (it *wbMergeIter) Close() error {
	if it.closed {
		return nil
	}
	it.closed = true
	it.cur.buf = nil
	return it.merge.under.Close()
}

// wbCursor walks the buffered entries of a range in chunks read under the
// buffer's lock, resuming after the last key read.
type wbCursor struct {
	w *writeBack
	chunkReader
}

func (cc *wbCursor) peek() (kvItem, bool) {
	if e, ok := cc.buffered(); ok || cc.done {
		return e, ok
	}
	if !cc.fill() {
		return kvItem{}, false
	}
	return cc.buf[cc.pos], true
}

func (cc *wbCursor) fill() bool {
	w := cc.w
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed || w.tree == nil {
		cc.stop()
		return false
	}
	return readChunk(&cc.chunkReader, w.tree,
		// The key is copied: the buffer's keys live only until a drain.
		func(p *pendingValue) kvItem { return kvItem{key: []byte(p.k), value: p.v} },
		func(key []byte) *pendingValue { return &pendingValue{k: string(key)} }, 256)
}

// emptyIter is what a merge iterator holds after its engine failed to reopen.
type emptyIter struct{}

func (emptyIter) Next() bool    { return false }
func (emptyIter) Key() []byte   { return nil }
func (emptyIter) Value() []byte { return nil }
func (emptyIter) Err() error    { return nil }
func (emptyIter) Close() error  { return nil }
