package state

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// segmentKV is what a segment of a window or session store is: a key-value
// engine store that can scan with an exclusive bound and delete itself.
type segmentKV = EngineStore

func (s *memKV) Destroy() error { return s.Close() }

// DefaultSegmentInterval is Kafka Streams' rule: half the retention, at
// least one minute.
func DefaultSegmentInterval(retention time.Duration) time.Duration {
	if i := retention / 2; i > time.Minute {
		return i
	}
	return time.Minute
}

// segments holds the time segments of a window or session store. Segment id
// = floor(time / interval); a segment is dropped whole once every time it
// covers is older than the observed stream time minus the retention.
type segments struct {
	name      string
	interval  int64 // ms
	retention int64 // ms
	open      func(id int64) (segmentKV, error)

	mu       sync.Mutex
	segs     map[int64]segmentKV
	observed int64 // largest time seen; minTime before the first
	closed   bool
	// pool is the shared bound of the segments' write-back buffers
	// (segpool.go).
	pool segPool
	// groups are the last batch's, reused by the next (writeBatch).
	groups []*segGroup
	// loading: the segments being opened are those found on disk, not
	// new ones (which are created empty).
	loading bool
}

func newSegments(name string, retention, interval int64, open func(id int64) (segmentKV, error)) *segments {
	g := &segments{
		name: name, interval: interval, retention: retention,
		segs: map[int64]segmentKV{}, observed: minTime,
	}
	g.open = func(id int64) (segmentKV, error) {
		s, err := open(id)
		if err == nil {
			g.poolSegment(s, !g.loading)
		}
		return s, err
	}
	return g
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

func (g *segments) id(t int64) int64 { return floorDiv(t, g.interval) }

// minLive is the smallest time still retained: times at or below observed -
// retention are expired.
func (g *segments) minLiveLocked() int64 { return g.minLiveAt(g.observed) }

// minLiveAt is minLive had the stream time been observed.
func (g *segments) minLiveAt(observed int64) int64 {
	if observed == minTime || observed-g.retention+1 > observed {
		return minTime
	}
	return observed - g.retention + 1
}

func (g *segments) minLive() int64 {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.minLiveLocked()
}

// observe advances the stream time to t, drops the segments that expire and
// reports whether t itself is still retained.
func (g *segments) observe(t int64) (live bool, err error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return false, ErrClosed
	}
	if t > g.observed {
		g.observed = t
		err = g.cleanupLocked()
	}
	return t >= g.minLiveLocked(), err
}

func (g *segments) cleanupLocked() error {
	minLive := g.minLiveLocked()
	if minLive == minTime {
		return nil
	}
	minID := g.id(minLive)
	var errs []error
	for id, s := range g.segs {
		if id < minID {
			delete(g.segs, id)
			// Iterators still reading it end early: what they would
			// return has expired.
			if err := s.Destroy(); err != nil && !errors.Is(err, ErrOpenIterators) {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

// segErr maps the ErrClosed of a segment dropped (expired) under a reader
// or writer to nil; it stays ErrClosed once the whole store is closed.
func (g *segments) segErr(err error) error {
	if err == nil || !errors.Is(err, ErrClosed) {
		return err
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return err
	}
	return nil
}

// getOrCreate returns the segment for time t, opening it when missing.
func (g *segments) getOrCreate(t int64) (segmentKV, error) {
	id := g.id(t)
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return nil, ErrClosed
	}
	if s, ok := g.segs[id]; ok {
		return s, nil
	}
	s, err := g.open(id)
	if err != nil {
		return nil, err
	}
	g.segs[id] = s
	return s, nil
}

// get returns the segment for time t, or nil.
func (g *segments) get(t int64) (segmentKV, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return nil, ErrClosed
	}
	return g.segs[g.id(t)], nil
}

// between returns the segments that may hold times in [from, to], in
// ascending time order (descending when reverse).
func (g *segments) between(from, to int64, reverse bool) ([]segmentKV, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return nil, ErrClosed
	}
	lo, hi := g.id(from), g.id(to)
	if hi >= lo && uint64(hi-lo) < uint64(2*len(g.segs)) {
		// A short range (a fetch of one key's windows): look its ids
		// up in order, with no sort and one allocation.
		var out []segmentKV
		for i := int64(0); i <= hi-lo; i++ {
			id := lo + i
			if reverse {
				id = hi - i
			}
			if s, ok := g.segs[id]; ok {
				out = append(out, s)
			}
		}
		return out, nil
	}
	ids := make([]int64, 0, len(g.segs))
	for id := range g.segs {
		if id >= lo && id <= hi {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	if reverse {
		slices.Reverse(ids)
	}
	out := make([]segmentKV, len(ids))
	for i, id := range ids {
		out[i] = g.segs[id]
	}
	return out, nil
}

func (g *segments) flush() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return ErrClosed
	}
	var errs []error
	for _, s := range g.segs {
		if err := s.Flush(); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// close closes every segment. Leaked iterators are the owning store's to
// report; the segments' own count only iterators of this package.
func (g *segments) close() error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return nil
	}
	g.closed = true
	var errs []error
	for _, s := range g.segs {
		if err := s.Close(); err != nil && !errors.Is(err, ErrOpenIterators) {
			errs = append(errs, err)
		}
	}
	g.segs = nil
	return errors.Join(errs...)
}

// Persistent segments: one engine database per segment, in
// <dir>/<name>.<segment start time>, as Kafka Streams lays them out.

func segmentDir(dir, name string, start int64) string {
	return filepath.Join(dir, name+"."+strconv.FormatInt(start, 10))
}

// openPersistentSegments opens the segments found in dir and returns the
// segment set, its stream time set to the start of the newest one.
func openPersistentSegments(name, dir string, retention, interval int64, openDB func(name, dir string) (EngineStore, error)) (*segments, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("state: store %q: %w", name, err)
	}
	g := newSegments(name, retention, interval, func(id int64) (segmentKV, error) {
		start := id * interval
		return openDB(fmt.Sprintf("%s.%d", name, start), segmentDir(dir, name, start))
	})
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	prefix := name + "."
	var ids []int64
	for _, e := range entries {
		if !e.IsDir() || !strings.HasPrefix(e.Name(), prefix) {
			continue
		}
		start, err := strconv.ParseInt(strings.TrimPrefix(e.Name(), prefix), 10, 64)
		if err != nil || start%interval != 0 {
			continue // not ours, or written with another segment interval
		}
		ids = append(ids, start/interval)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	// Segments opened later are created: this process is the only one
	// writing dir, which held none of them, and an expired segment's
	// files go with it and its id is never opened again.
	g.loading = true
	defer func() { g.loading = false }()
	for _, id := range ids {
		s, err := g.open(id)
		if err != nil {
			g.close()
			return nil, err
		}
		g.segs[id] = s
	}
	if len(ids) > 0 {
		// The stream time was at least the newest segment's start.
		g.observed = ids[len(ids)-1] * interval
		if err := g.cleanupLocked(); err != nil {
			g.close()
			return nil, err
		}
	}
	return g, nil
}

func newMemSegments(name string, retention, interval int64) *segments {
	return newSegments(name, retention, interval, func(id int64) (segmentKV, error) {
		return newFilteredMemKV(fmt.Sprintf("%s.%d", name, id*interval)), nil
	})
}
