package state

import "bytes"

// Range reads of the record cache: the cache's entries of a range merged
// with the store's below it.

func (c *CachingKeyValueStore) Range(from, to []byte) (KeyValueIterator, error) {
	if from != nil && to != nil && bytes.Compare(from, to) > 0 {
		return c.merged(nil, nil, false, false, true)
	}
	return c.merged(from, to, true, false, false)
}

func (c *CachingKeyValueStore) ReverseRange(from, to []byte) (KeyValueIterator, error) {
	if from != nil && to != nil && bytes.Compare(from, to) > 0 {
		return c.merged(nil, nil, false, true, true)
	}
	return c.merged(from, to, true, true, false)
}

func (c *CachingKeyValueStore) PrefixScan(prefix []byte) (KeyValueIterator, error) {
	if len(prefix) == 0 {
		return c.merged(nil, nil, false, false, false)
	}
	return c.merged(prefix, prefixEnd(prefix), false, false, false)
}

func (c *CachingKeyValueStore) All() (KeyValueIterator, error) {
	return c.merged(nil, nil, false, false, false)
}

func (c *CachingKeyValueStore) ReverseAll() (KeyValueIterator, error) {
	return c.merged(nil, nil, false, true, false)
}

// merged iterates the cache's entries of the range merged with the store's:
// cached values win, cached deletes hide. The cache is read in chunks, as
// the in-memory engine is, so an iterator costs what it reads.
func (c *CachingKeyValueStore) merged(lo, hi []byte, hiIncl, reverse, empty bool) (KeyValueIterator, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil, ErrClosed
	}
	if empty {
		return newEmptyKVIter(&c.iters), nil
	}
	var under KeyValueIterator
	var err error
	switch {
	case lo == nil && hi == nil && reverse:
		under, err = c.inner.ReverseAll()
	case lo == nil && hi == nil:
		under, err = c.inner.All()
	case !hiIncl:
		under, err = c.inner.PrefixScan(lo) // only prefix scans use an exclusive bound
	case reverse:
		under, err = c.inner.ReverseRange(lo, hi)
	default:
		under, err = c.inner.Range(lo, hi)
	}
	if err != nil {
		return nil, err
	}
	c.iters.Opened()
	cur := &cacheCursor{c: c, chunkReader: chunkReader{chunkBounds: chunkBounds{lo: lo, hi: hi, hiIncl: hiIncl, reverse: reverse}, chunk: 8}}
	return &cacheMergeIter{c: c, owner: &c.iters, cache: cur,
		merge: kvMerge{over: cur, under: under, reverse: reverse, underOK: under.Next()}}, nil
}

type cacheMergeIter struct {
	c      *CachingKeyValueStore
	owner  *iterCount
	cache  *cacheCursor
	merge  kvMerge
	key    []byte
	value  []byte
	err    error
	closed bool
}

func (it *cacheMergeIter) Next() bool {
	if it.closed || it.err != nil {
		return false
	}
	if it.c.closedFlag.Load() {
		it.err = ErrClosed
		return false
	}
	var ok bool
	it.key, it.value, ok, it.err = it.merge.next()
	return ok
}

func (it *cacheMergeIter) Key() []byte   { return it.key }
func (it *cacheMergeIter) Value() []byte { return it.value }
func (it *cacheMergeIter) Err() error    { return it.err }

func (it *cacheMergeIter) Close() error {
	if it.closed {
		return nil
	}
	it.closed = true
	it.cache.buf = nil
	it.merge.under.Close()
	it.owner.Closed()
	return nil
}

// cacheCursor walks the cache's entries of a range in chunks read under the
// cache's lock, resuming after the last key read.
// kvMerge merges a sorted run of entries that override the store's (the
// record cache's, the write-back buffer's) with the store's own iterator:
// at equal keys the run's value wins, and its nil values (deletes) hide
// the key.
type kvMerge struct {
	over    kvSource
	under   KeyValueIterator
	underOK bool // under is positioned on an entry not returned yet
	advance bool // the last entry returned was under's: move it first
	reverse bool
}

// next returns the next entry of the merge; ok is false at the end or on
// an error of the store's iterator.
func (m *kvMerge) next() (key, value []byte, ok bool, err error) {
	if m.advance {
		m.advance = false
		m.underOK = m.under.Next()
	}
	for {
		if !m.underOK {
			if err := m.under.Err(); err != nil {
				return nil, nil, false, err
			}
		}
		head, overOK := m.over.peek()
		if !overOK && !m.underOK {
			return nil, nil, false, nil
		}
		useOver := false
		switch {
		case !overOK:
		case !m.underOK:
			useOver = true
		default:
			c := bytes.Compare(head.key, m.under.Key())
			if c == 0 {
				m.underOK = m.under.Next() // the overriding value wins
				useOver = true
			} else {
				useOver = (c < 0) != m.reverse
			}
		}
		if useOver {
			m.over.pop()
			if head.value == nil {
				continue // a delete
			}
			return head.key, head.value, true, nil
		}
		m.advance = true
		return m.under.Key(), m.under.Value(), true, nil
	}
}

// cacheCursor reads the cache's entries of a range (deletes included) for
// a merge with the store below.
type cacheCursor struct {
	c *CachingKeyValueStore
	chunkReader
}

// peek returns the current entry without consuming it.
func (cc *cacheCursor) peek() (kvItem, bool) {
	if e, ok := cc.buffered(); ok || cc.done {
		return e, ok
	}
	if !cc.fill() {
		return kvItem{}, false
	}
	return cc.buf[cc.pos], true
}

func (cc *cacheCursor) fill() bool {
	c := cc.c
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		cc.stop()
		return false
	}
	c.ensureTree()
	return readChunk(&cc.chunkReader, c.tree,
		func(e *cacheEntry) kvItem { return kvItem{key: e.key, value: e.value} },
		func(key []byte) *cacheEntry { return &cacheEntry{key: key} }, 256)
}
