package state

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/google/btree"

	"github.com/kafki/kafki/state/internal/enginekit"
)

// IteratorCounter is implemented by every store of this package: it reports
// how many iterators opened on the store are not closed yet. Tests assert it
// is 0 after each use; Close returns an *OpenIteratorsError when it is not.
type IteratorCounter interface {
	OpenIterators() int
}

// ErrOpenIterators matches (with errors.Is) the error Close returns when
// iterators were left open on a store.
var ErrOpenIterators = errors.New("state: iterators left open")

// OpenIteratorsError is returned by Close when iterators were still open.
// The store is closed all the same: the iterators are invalidated and what
// they held is released.
type OpenIteratorsError struct {
	Store string
	Count int
}

func (e *OpenIteratorsError) Error() string {
	return fmt.Sprintf("state: store %q closed with %d open iterator(s): close every iterator", e.Store, e.Count)
}

// Is makes errors.Is(err, ErrOpenIterators) true.
func (e *OpenIteratorsError) Is(target error) bool { return target == ErrOpenIterators }

// The counter, the empty iterator and the key bounds are shared with the
// persistent engine packages through enginekit.

// iterCount is the open-iterator counter embedded in stores.
type iterCount = enginekit.IterCount

// leakErr returns the Close error for a store that still has iterators open.
func leakErr(name string, n int) error {
	if n == 0 {
		return nil
	}
	return &OpenIteratorsError{Store: name, Count: n}
}

// emptyKVIter is an iterator with nothing in it (for empty ranges).
type emptyKVIter = enginekit.EmptyIter

var (
	newEmptyKVIter = enginekit.NewEmptyIter
	prefixEnd      = enginekit.PrefixEnd
	inclusiveEnd   = enginekit.InclusiveEnd
)

// chunkBounds is the range and position of an iterator that reads a
// B-tree in chunks and resumes after the last key it read (memIter,
// cacheCursor): keys from lo (inclusive, nil = open) to hi (inclusive when
// hiIncl, else exclusive; nil = open).
type chunkBounds struct {
	lo, hi  []byte
	hiIncl  bool
	reverse bool
	started bool
	last    []byte // the last key read
}

// beyond reports whether key is past the end of the range.
func (b *chunkBounds) beyond(key []byte) bool {
	if b.reverse {
		return b.lo != nil && bytes.Compare(key, b.lo) < 0
	}
	if b.hi == nil {
		return false
	}
	c := bytes.Compare(key, b.hi)
	return c > 0 || (c == 0 && !b.hiIncl)
}

// pivot is where the next chunk starts (nil: at the tree's end) and
// whether a key equal to it is skipped.
func (b *chunkBounds) pivot() (pivot []byte, skip bool) {
	switch {
	case b.started:
		return b.last, true
	case b.reverse:
		return b.hi, b.hi != nil && !b.hiIncl
	default:
		return b.lo, false
	}
}

// chunkReader reads a key range of a B-tree in chunks, each under the lock
// of the tree's owner, and resumes after the last key read, so that no lock
// is held between chunks. The in-memory store's iterator, the record
// cache's and the write-back buffer's cursors read their trees with it.
type chunkReader struct {
	chunkBounds
	buf   []kvItem
	pos   int
	chunk int  // how many entries the next chunk reads
	done  bool // the tree has nothing past buf
}

// buffered returns the next entry of the chunk read last, if any is left.
func (r *chunkReader) buffered() (kvItem, bool) {
	if r.pos < len(r.buf) {
		return r.buf[r.pos], true
	}
	return kvItem{}, false
}

func (r *chunkReader) pop() { r.pos++ }

// stop ends the reading: the tree is gone or closed.
func (r *chunkReader) stop() {
	r.buf, r.pos, r.done = r.buf[:0], 0, true
}

// readChunk reads the next chunk of r's range from tree into r.buf and
// reports whether it read anything. item gives an entry's key and value;
// seek builds the entry to start from. The caller holds the lock guarding
// tree. Chunks double in size up to maxChunk entries.
func readChunk[T any](r *chunkReader, tree *btree.BTreeG[T], item func(T) kvItem, seek func(key []byte) T, maxChunk int) bool {
	r.buf, r.pos, r.done = r.buf[:0], 0, true
	pivot, skip := r.pivot()
	visit := func(t T) bool {
		e := item(t)
		if skip && bytes.Equal(e.key, pivot) {
			return true
		}
		if r.beyond(e.key) {
			return false
		}
		r.buf = append(r.buf, e)
		if len(r.buf) >= r.chunk {
			r.done = false
			return false
		}
		return true
	}
	switch {
	case !r.reverse && pivot == nil:
		tree.Ascend(visit)
	case !r.reverse:
		tree.AscendGreaterOrEqual(seek(pivot), visit)
	case pivot == nil:
		tree.Descend(visit)
	default:
		tree.DescendLessOrEqual(seek(pivot), visit)
	}
	r.started = true
	if r.chunk < maxChunk {
		r.chunk *= 2
	}
	if len(r.buf) == 0 {
		r.done = true
		return false
	}
	r.last = r.buf[len(r.buf)-1].key
	return true
}
