package state

import (
	"encoding/binary"
	"time"
)

// TimeOrderedSessionStore is a session store that can also list the
// sessions of every key by end time (Kafka Streams' time-ordered session
// store, RocksDbTimeOrderedSessionBytesStoreSupplier, and its
// findSessions(earliestSessionEndTime, latestSessionEndTime)). Session
// aggregations that emit only closed sessions (EmitStrategy OnWindowClose)
// need it. Open returns one for a session Spec with TimeOrdered set.
type TimeOrderedSessionStore interface {
	SessionStore
	// FindSessionsByEnd returns every retained session, of any key, that
	// ends in [earliestEnd, latestEnd], ordered by end, then start, then
	// key (bytewise): the order of Kafka Streams' RocksDB time-ordered
	// session store, whatever the engine.
	FindSessionsByEnd(earliestEnd, latestEnd int64) (SessionIterator, error)
}

// The index: in the segment of its session (segments are by session end,
// so an entry expires with its session), one key per session with an
// empty value:
//
//	00 02 | end (8) | start (8) | key
//
// Times are encoded as in SessionKey. No SessionKey starts with 00 02 (an
// escaped key starts with a byte other than 00, or with 00 FF or 00 01),
// so the index never shows in a scan of one key's sessions: those scan
// [escaped(key) 00 01, escaped(key) 00 02). The record key goes last and
// unescaped: after two fixed-width times, bytewise order is (end, start,
// key) order.
var endIndexPrefix = []byte{0x00, 0x02}

func endIndexKey(key []byte, start, end int64) []byte {
	dst := make([]byte, 0, len(endIndexPrefix)+2*timeSize+len(key))
	dst = appendTime(appendTime(append(dst, endIndexPrefix...), end), start)
	return append(dst, key...)
}

func decodeEndIndexKey(enc []byte) (key []byte, start, end int64, err error) {
	n := len(endIndexPrefix)
	if len(enc) < n+2*timeSize || enc[0] != endIndexPrefix[0] || enc[1] != endIndexPrefix[1] {
		return nil, 0, 0, ErrBadKey
	}
	end = decodeTime(binary.BigEndian.Uint64(enc[n:]))
	start = decodeTime(binary.BigEndian.Uint64(enc[n+timeSize:]))
	return enc[n+2*timeSize:], start, end, nil
}

// timeOrderedSessionStore is a sessionStore with byEnd set.
type timeOrderedSessionStore struct{ sessionStore }

var _ TimeOrderedSessionStore = (*timeOrderedSessionStore)(nil)

// NewInMemoryTimeOrderedSessionStore is NewInMemorySessionStore with an
// index by session end (see TimeOrderedSessionStore).
func NewInMemoryTimeOrderedSessionStore(name string, retention, segmentInterval time.Duration) TimeOrderedSessionStore {
	r, i := retentionMs(retention), intervalMs(retention, segmentInterval)
	return &timeOrderedSessionStore{sessionStore{segStore: segStore{name: name, segs: newMemSegments(name, r, i)}, byEnd: true}}
}

func (s *timeOrderedSessionStore) FindSessionsByEnd(earliestEnd, latestEnd int64) (SessionIterator, error) {
	earliestEnd = max(earliestEnd, s.segs.minLive())
	if latestEnd < earliestEnd {
		return emptySessionIter{}, nil
	}
	segs, err := s.segs.between(earliestEnd, latestEnd, false)
	if err != nil {
		return nil, err
	}
	lo := appendTime(append([]byte(nil), endIndexPrefix...), earliestEnd)
	var hi []byte
	if latestEnd < maxTime {
		hi = appendTime(append([]byte(nil), endIndexPrefix...), latestEnd+1)
	} else {
		hi = []byte{endIndexPrefix[0], endIndexPrefix[1] + 1}
	}
	s.iters.Opened()
	return &byEndIter{owner: &s.iters, segs: segs, scan: segScan{lo: lo, hi: hi}, g: s.segs}, nil
}

// byEndIter walks the index of each segment in turn and reads each
// session's value from the same segment.
type byEndIter struct {
	owner *iterCount
	g     *segments
	segs  []segmentKV
	scan  segScan
	seg   segmentKV
	cur   KeyValueIterator

	key        []byte
	start, end int64
	value      []byte
	err        error
	closed     bool
}

func (it *byEndIter) Next() bool {
	if it.closed || it.err != nil {
		return false
	}
	for {
		if it.cur == nil {
			if len(it.segs) == 0 {
				it.key, it.value = nil, nil
				return false
			}
			it.seg = it.segs[0]
			it.segs = it.segs[1:]
			if it.cur, it.err = it.scan.open(it.seg); it.err != nil {
				return false
			}
			if it.cur == nil {
				continue // dropped meanwhile
			}
		}
		if !it.cur.Next() {
			it.err = segErr(it.cur)
			it.cur.Close()
			it.cur = nil
			if it.err != nil {
				return false
			}
			continue
		}
		k, start, end, err := decodeEndIndexKey(it.cur.Key())
		if err != nil {
			it.err = err
			return false
		}
		if end < it.g.minLive() {
			continue
		}
		k = append([]byte(nil), k...) // the engine may reuse the key's bytes
		v, err := it.seg.Get(SessionKey(k, start, end))
		if err = it.g.segErr(err); err != nil {
			it.err = err
			return false
		}
		if v == nil {
			continue // an index entry whose session a crash did not write
		}
		it.key, it.start, it.end, it.value = k, start, end, v
		return true
	}
}

func (it *byEndIter) Key() []byte   { return it.key }
func (it *byEndIter) Start() int64  { return it.start }
func (it *byEndIter) End() int64    { return it.end }
func (it *byEndIter) Value() []byte { return it.value }
func (it *byEndIter) Err() error    { return it.err }

func (it *byEndIter) Close() error {
	if it.closed {
		return nil
	}
	it.closed = true
	if it.cur != nil {
		it.cur.Close()
		it.cur = nil
	}
	it.owner.Closed()
	return nil
}

type emptySessionIter struct{}

func (emptySessionIter) Next() bool    { return false }
func (emptySessionIter) Key() []byte   { return nil }
func (emptySessionIter) Start() int64  { return 0 }
func (emptySessionIter) End() int64    { return 0 }
func (emptySessionIter) Value() []byte { return nil }
func (emptySessionIter) Err() error    { return nil }
func (emptySessionIter) Close() error  { return nil }
