package state

import (
	"bytes"
	"errors"
	"fmt"
	"sync/atomic"
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

// iterCount is the open-iterator counter embedded in stores.
type iterCount struct{ n atomic.Int64 }

func (c *iterCount) OpenIterators() int { return int(c.n.Load()) }
func (c *iterCount) opened()            { c.n.Add(1) }
func (c *iterCount) closed()            { c.n.Add(-1) }

// leakErr returns the Close error for a store that still has iterators open.
func leakErr(name string, n int) error {
	if n == 0 {
		return nil
	}
	return &OpenIteratorsError{Store: name, Count: n}
}

// emptyKVIter is an iterator with nothing in it (for empty ranges).
type emptyKVIter struct {
	c      *iterCount
	closed bool
}

func newEmptyKVIter(c *iterCount) *emptyKVIter {
	c.opened()
	return &emptyKVIter{c: c}
}

func (it *emptyKVIter) Next() bool    { return false }
func (it *emptyKVIter) Key() []byte   { return nil }
func (it *emptyKVIter) Value() []byte { return nil }
func (it *emptyKVIter) Err() error    { return nil }
func (it *emptyKVIter) Close() error {
	if !it.closed {
		it.closed = true
		it.c.closed()
	}
	return nil
}

// prefixEnd returns the smallest key greater than every key with the given
// prefix, or nil when there is none (the prefix is all 0xff).
func prefixEnd(prefix []byte) []byte {
	end := make([]byte, len(prefix))
	copy(end, prefix)
	for i := len(end) - 1; i >= 0; i-- {
		if end[i] < 0xff {
			end[i]++
			return end[:i+1]
		}
	}
	return nil
}

// inclusiveEnd turns an inclusive upper bound into an exclusive one: the
// smallest key greater than to, which is to+0x00. nil stays nil (open).
func inclusiveEnd(to []byte) []byte {
	if to == nil {
		return nil
	}
	end := make([]byte, len(to)+1)
	copy(end, to)
	return end
}

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
