package state

import (
	"bytes"
	"errors"
)

// Iterators over the segments of a window or session store.

// segScan is one range scan, run on every segment of a list.
type segScan struct {
	lo, hi  []byte
	hiIncl  bool
	reverse bool
}

func (sc segScan) open(s segmentKV) (KeyValueIterator, error) {
	it, err := s.Scan(sc.lo, sc.hi, sc.hiIncl, sc.reverse)
	if errors.Is(err, ErrClosed) {
		return nil, nil // the segment was dropped meanwhile: nothing live in it
	}
	return it, err
}

// segErr is an iterator's error, less the ErrClosed of a segment that was
// dropped under it (it held only expired data then).
func segErr(it KeyValueIterator) error {
	if err := it.Err(); err != nil && !errors.Is(err, ErrClosed) {
		return err
	}
	return nil
}

// chainIter runs the scan on each segment in turn, opening the next one
// only when the previous is exhausted.
type chainIter struct {
	segs []segmentKV
	scan segScan
	cur  KeyValueIterator
	err  error
}

func (c *chainIter) Next() bool {
	for c.err == nil {
		if c.cur != nil {
			if c.cur.Next() {
				return true
			}
			c.err = segErr(c.cur)
			c.cur.Close()
			c.cur = nil
			continue
		}
		if len(c.segs) == 0 {
			return false
		}
		c.cur, c.err = c.scan.open(c.segs[0])
		c.segs = c.segs[1:]
	}
	return false
}

func (c *chainIter) Key() []byte {
	if c.cur == nil {
		return nil
	}
	return c.cur.Key()
}

func (c *chainIter) Value() []byte {
	if c.cur == nil {
		return nil
	}
	return c.cur.Value()
}
func (c *chainIter) Err() error { return c.err }
func (c *chainIter) Close() error {
	if c.cur != nil {
		c.cur.Close()
		c.cur = nil
	}
	c.segs = nil
	return nil
}

// mergeIter runs the scan on every segment at once and merges the results
// in key order (reverse key order for reverse scans), so that a key range
// comes out ordered by key across segments. Segments are few.
type mergeIter struct {
	its     []KeyValueIterator
	live    []bool
	primed  bool
	cur     int
	reverse bool
	err     error
}

func newMergeIter(segs []segmentKV, sc segScan) (*mergeIter, error) {
	m := &mergeIter{reverse: sc.reverse, cur: -1}
	for _, s := range segs {
		it, err := sc.open(s)
		if err != nil {
			m.Close()
			return nil, err
		}
		if it != nil {
			m.its = append(m.its, it)
		}
	}
	m.live = make([]bool, len(m.its))
	return m, nil
}

func (m *mergeIter) advance(i int) {
	m.live[i] = m.its[i].Next()
	if !m.live[i] {
		if err := segErr(m.its[i]); err != nil && m.err == nil {
			m.err = err
		}
	}
}

func (m *mergeIter) Next() bool {
	if m.err != nil {
		return false
	}
	if !m.primed {
		m.primed = true
		for i := range m.its {
			m.advance(i)
		}
	} else if m.cur >= 0 {
		m.advance(m.cur)
	}
	if m.err != nil {
		return false
	}
	m.cur = -1
	for i, it := range m.its {
		if !m.live[i] {
			continue
		}
		if m.cur < 0 {
			m.cur = i
			continue
		}
		c := bytes.Compare(it.Key(), m.its[m.cur].Key())
		if (c < 0) != m.reverse && c != 0 {
			m.cur = i
		}
	}
	return m.cur >= 0
}

func (m *mergeIter) Key() []byte {
	if m.cur < 0 {
		return nil
	}
	return m.its[m.cur].Key()
}

func (m *mergeIter) Value() []byte {
	if m.cur < 0 {
		return nil
	}
	return m.its[m.cur].Value()
}
func (m *mergeIter) Err() error { return m.err }
func (m *mergeIter) Close() error {
	for _, it := range m.its {
		it.Close()
	}
	m.its = nil
	m.cur = -1
	return nil
}
