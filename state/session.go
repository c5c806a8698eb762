package state

import "time"

// sessionStore is the session store of both engines: time segments (by
// session end) of key-value engine stores keyed by SessionKey. A
// time-ordered one (byEnd) also keeps an index by session end in each
// segment (see session_byend.go).
type sessionStore struct {
	segStore
	byEnd bool
}

// NewInMemorySessionStore returns a session store held in B-trees, one per
// time segment of session ends. retention 0 keeps sessions forever;
// segmentInterval 0 uses DefaultSegmentInterval.
func NewInMemorySessionStore(name string, retention, segmentInterval time.Duration) SessionStore {
	r, i := retentionMs(retention), intervalMs(retention, segmentInterval)
	return &sessionStore{segStore: segStore{name: name, segs: newMemSegments(name, r, i)}}
}

func (s *sessionStore) Put(key []byte, start, end int64, value []byte) error {
	live, err := s.segs.observe(end)
	if err != nil {
		return err
	}
	if !live {
		s.dropped.Add(1)
		return nil
	}
	if value == nil {
		return s.Remove(key, start, end)
	}
	seg, err := s.segs.getOrCreate(end)
	if err != nil {
		return err
	}
	if s.byEnd {
		// The index entry goes first: one left without its session by a
		// crash between the two writes is skipped by FindSessionsByEnd.
		if err := seg.Put(endIndexKey(key, start, end), []byte{}); err != nil {
			return s.segs.segErr(err)
		}
	}
	return s.segs.wrote(seg.Put(SessionKey(key, start, end), value))
}

func (s *sessionStore) Remove(key []byte, start, end int64) error {
	seg, err := s.segs.get(end)
	if err != nil || seg == nil {
		return err
	}
	if err := seg.Put(SessionKey(key, start, end), nil); err != nil || !s.byEnd {
		return s.segs.wrote(err)
	}
	return s.segs.wrote(seg.Put(endIndexKey(key, start, end), nil))
}

func (s *sessionStore) FetchSession(key []byte, start, end int64) ([]byte, error) {
	if end < s.segs.minLive() {
		return nil, nil
	}
	seg, err := s.segs.get(end)
	if err != nil || seg == nil {
		return nil, err
	}
	v, err := seg.Get(SessionKey(key, start, end))
	return v, s.segs.segErr(err)
}

func (s *sessionStore) FindSessions(key []byte, earliestSessionEnd, latestSessionStart int64) (SessionIterator, error) {
	return s.find(key, earliestSessionEnd, latestSessionStart, false)
}

// BackwardFindSessions is FindSessions in descending session-end order.
func (s *sessionStore) BackwardFindSessions(key []byte, earliestSessionEnd, latestSessionStart int64) (SessionIterator, error) {
	return s.find(key, earliestSessionEnd, latestSessionStart, true)
}

func (s *sessionStore) Fetch(key []byte) (SessionIterator, error) {
	return s.find(key, minTime, maxTime, false)
}

// BackwardFetch is Fetch in descending session-end order.
func (s *sessionStore) BackwardFetch(key []byte) (SessionIterator, error) {
	return s.find(key, minTime, maxTime, true)
}

func (s *sessionStore) find(key []byte, earliestEnd, latestStart int64, reverse bool) (SessionIterator, error) {
	earliestEnd = max(earliestEnd, s.segs.minLive())
	// Sessions end at or after they start: nothing ending before the
	// earliest end can match, and every later segment may.
	segs, err := s.segs.between(earliestEnd, maxTime, reverse)
	if err != nil {
		return nil, err
	}
	sc := segScan{lo: appendTime(keyPrefix(key), earliestEnd), hi: keyPrefixEnd(key), reverse: reverse}
	s.iters.Opened()
	return &sessionIter{owner: &s.iters, src: &chainIter{segs: segs, scan: sc}, earliestEnd: earliestEnd, latestStart: latestStart}, nil
}

type sessionIter struct {
	owner                    *iterCount
	src                      KeyValueIterator
	earliestEnd, latestStart int64
	key                      []byte
	start, end               int64
	value                    []byte
	err                      error
	closed                   bool
}

func (it *sessionIter) Next() bool {
	if it.closed || it.err != nil {
		return false
	}
	for it.src.Next() {
		k, start, end, err := DecodeSessionKey(it.src.Key())
		if err != nil {
			it.err = err
			return false
		}
		if end < it.earliestEnd || start > it.latestStart {
			continue
		}
		it.key, it.start, it.end, it.value = k, start, end, it.src.Value()
		return true
	}
	it.err = it.src.Err()
	it.key, it.value = nil, nil
	return false
}

func (it *sessionIter) Key() []byte   { return it.key }
func (it *sessionIter) Start() int64  { return it.start }
func (it *sessionIter) End() int64    { return it.end }
func (it *sessionIter) Value() []byte { return it.value }
func (it *sessionIter) Err() error    { return it.err }

func (it *sessionIter) Close() error {
	if it.closed {
		return nil
	}
	it.closed = true
	it.src.Close()
	it.owner.Closed()
	return nil
}
