package state

import "sync/atomic"

// segStore is what the window and session stores share: a name, time
// segments of engine stores, the count of puts dropped as expired and the
// open iterators.
type segStore struct {
	name       string
	persistent bool
	segs       *segments
	dropped    atomic.Int64
	iters      iterCount
}

func (s *segStore) Name() string                 { return s.name }
func (s *segStore) Persistent() bool             { return s.persistent }
func (s *segStore) Flush() error                 { return s.segs.flush() }
func (s *segStore) OpenIterators() int           { return s.iters.OpenIterators() }
func (s *segStore) DroppedExpiredRecords() int64 { return s.dropped.Load() }

// minLive is the smallest time the store still retains.
func (s *segStore) minLive() int64 { return s.segs.minLive() }

// Retention and SegmentInterval are in ms.
func (s *segStore) Retention() int64       { return s.segs.retention }
func (s *segStore) SegmentInterval() int64 { return s.segs.interval }

// ObservedStreamTime is the largest time put so far: window start in a
// window store, session end in a session store.
func (s *segStore) ObservedStreamTime() int64 {
	s.segs.mu.Lock()
	defer s.segs.mu.Unlock()
	return s.segs.observed
}

func (s *segStore) Close() error {
	err := s.segs.close()
	if lerr := leakErr(s.name, s.iters.OpenIterators()); lerr != nil {
		return lerr
	}
	return err
}
