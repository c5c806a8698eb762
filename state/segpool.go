package state

import "sync/atomic"

// The write-back buffers of a segmented store's segments share one bound.
//
// Each engine database gets a write-back buffer of its own bound (B), and a
// window or session store opens one database per time segment, so such a
// store could already buffer B per live segment. But its writes go to one
// or two segments at a time: a record cache's flush writes the windows it
// holds, which are those of the newest segments, and writes the same
// windows again at each flush until they close. With B per segment the
// buffer of the segment being written fills and drains to the engine at
// nearly every flush, and most windows reach it several times before they
// expire (a RocksDB write costs about 3 µs here), while the other segments'
// budget stays unused. Pooled, the segments being written may use the
// whole budget: a window is written to the engine at a commit, when the
// pool overflows, or never, when its segment expires first.
//
// The pool's bound is B times the number of segments that can be live at
// once (at most maxPooledSegments), so a store never buffers more than it
// could before. When the pool overflows, the largest buffers drain first.

// maxPooledSegments caps the segments a pool counts: a store keeping many
// segments (a long retention in short segments) does not get a pool that
// large, and still buffers at most what that many segments could.
const maxPooledSegments = 3

// segPool is a segmented store's shared write-back bound.
type segPool struct {
	bytes  atomic.Int64
	budget atomic.Int64 // 0: not known yet (no buffered segment opened)
}

// poolSegment makes seg, a segment just opened, share the store's pool
// when it is a write-back buffer; created: its database was created by
// this open, so it holds nothing yet.
func (g *segments) poolSegment(seg segmentKV, created bool) {
	w, ok := seg.(*writeBack)
	if !ok {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.empty = created && w.bytes == 0
	budget := g.pool.budget.Load()
	if budget == 0 {
		n := int64(maxPooledSegments)
		if g.retention > 0 && g.retention < maxTime-g.interval {
			// Live segments: those from minLive's to the stream time's.
			n = min(n, (g.retention+g.interval-1)/g.interval+1)
		}
		budget = int64(w.max) * n
		g.pool.budget.Store(budget)
	}
	// One buffer alone may fill the pool; the pool drains the largest
	// when they together exceed it.
	w.max = int(budget)
	w.pool = &g.pool.bytes
	g.pool.bytes.Add(int64(w.bytes))
}

// wrote is segErr for the result of a write into a segment, after which
// the pool drains its largest buffers while it is over its bound.
func (g *segments) wrote(err error) error {
	if err = g.segErr(err); err != nil {
		return err
	}
	if b := g.pool.budget.Load(); b == 0 || g.pool.bytes.Load() <= b {
		return err
	}
	return g.segErr(g.shrinkPool())
}

// shrinkPool drains the largest buffers until the pool fits its bound.
func (g *segments) shrinkPool() error {
	for g.pool.bytes.Load() > g.pool.budget.Load() {
		g.mu.Lock()
		var big *writeBack
		size := 0
		for _, s := range g.segs {
			if w, ok := s.(*writeBack); ok {
				if n := w.bufferedBytes(); n > size {
					big, size = w, n
				}
			}
		}
		g.mu.Unlock()
		if big == nil {
			return nil
		}
		if err := big.drain(); err != nil {
			return err
		}
	}
	return nil
}

// bufferedBytes is what the buffer holds, as counted against its bound.
func (w *writeBack) bufferedBytes() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.bytes
}

// drain writes the buffer's dirty entries to the engine and empties it.
func (w *writeBack) drain() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return ErrClosed
	}
	return w.drainLocked()
}

// addBytes moves the buffer's (and its pool's) byte count by n. Called
// with mu held.
func (w *writeBack) addBytes(n int) {
	w.bytes += n
	if w.pool != nil {
		w.pool.Add(int64(n))
	}
}
