// Package enginekit holds the small helpers the persistent engine packages
// (state/rocksdb, state/pebble) share: key bounds, the open-iterator
// counter, the empty iterator. It must not import any Kafki package, so that
// package state could use it too.
package enginekit

import "sync/atomic"

// IterCount counts the iterators opened on a store and not closed yet.
type IterCount struct{ n atomic.Int64 }

// OpenIterators is the number of iterators still open.
func (c *IterCount) OpenIterators() int { return int(c.n.Load()) }

// Opened counts one more open iterator.
func (c *IterCount) Opened() { c.n.Add(1) }

// Closed counts one iterator closed.
func (c *IterCount) Closed() { c.n.Add(-1) }

// EmptyIter is an iterator with nothing in it (an empty range), counted in
// its store's IterCount until closed.
type EmptyIter struct {
	c      *IterCount
	closed bool
}

// NewEmptyIter returns an empty iterator counted in c.
func NewEmptyIter(c *IterCount) *EmptyIter {
	c.Opened()
	return &EmptyIter{c: c}
}

func (it *EmptyIter) Next() bool    { return false }
func (it *EmptyIter) Key() []byte   { return nil }
func (it *EmptyIter) Value() []byte { return nil }
func (it *EmptyIter) Err() error    { return nil }

// Close uncounts the iterator; closing twice is harmless.
func (it *EmptyIter) Close() error {
	if !it.closed {
		it.closed = true
		it.c.Closed()
	}
	return nil
}

// PrefixEnd returns the smallest key greater than every key with the given
// prefix, or nil when there is none (the prefix is all 0xff).
func PrefixEnd(prefix []byte) []byte {
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

// InclusiveEnd turns an inclusive upper bound into an exclusive one: the
// smallest key greater than to, which is to+0x00. nil stays nil (open).
func InclusiveEnd(to []byte) []byte {
	if to == nil {
		return nil
	}
	end := make([]byte, len(to)+1)
	copy(end, to)
	return end
}
