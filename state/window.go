package state

import (
	"bytes"
	"encoding/binary"
	"sort"
	"sync/atomic"
	"time"
)

// ExpiredRecordCounter is implemented by window and session stores: it
// counts the puts dropped because their window or session had already
// expired (Kafka Streams' expired-window-record-drop metric).
type ExpiredRecordCounter interface {
	DroppedExpiredRecords() int64
}

// windowStore is the window store of both engines: time segments of
// key-value engine stores keyed by WindowKey / WindowKeyWithSeq.
type windowStore struct {
	segStore
	retainDup bool
	seq       atomic.Uint32
	// writes is the list of a batch's writes, kept for the next batch.
	writes atomic.Pointer[[]segWrite]
}

// retentionMs turns a retention period into ms; 0 or less keeps forever.
func retentionMs(retention time.Duration) int64 {
	if retention <= 0 {
		return maxTime
	}
	return retention.Milliseconds()
}

func intervalMs(retention, interval time.Duration) int64 {
	if interval <= 0 {
		if retention <= 0 {
			return maxTime / 4
		}
		interval = DefaultSegmentInterval(retention)
	}
	if ms := interval.Milliseconds(); ms > 0 {
		return ms
	}
	return 1
}

// NewInMemoryWindowStore returns a window store held in B-trees, one per
// time segment. retention 0 keeps windows forever; segmentInterval 0 uses
// DefaultSegmentInterval. With retainDuplicates every put is kept (for
// stream-stream joins) and a nil value is ignored instead of deleting.
func NewInMemoryWindowStore(name string, retention, segmentInterval time.Duration, retainDuplicates bool) WindowStore {
	r, i := retentionMs(retention), intervalMs(retention, segmentInterval)
	return &windowStore{segStore: segStore{name: name, segs: newMemSegments(name, r, i)}, retainDup: retainDuplicates}
}

// RetainDuplicates reports whether the store keeps every put.
func (s *windowStore) RetainDuplicates() bool { return s.retainDup }

func (s *windowStore) encode(key []byte, start int64) []byte {
	if s.retainDup {
		return WindowKeyWithSeq(key, start, s.seq.Add(1))
	}
	return WindowKey(key, start)
}

func (s *windowStore) Put(key, value []byte, windowStart int64) error {
	if value == nil && s.retainDup {
		return nil // as Kafka Streams: deletes are ignored when keeping duplicates
	}
	live, err := s.segs.observe(windowStart)
	if err != nil {
		return err
	}
	if !live {
		s.dropped.Add(1)
		return nil
	}
	if value == nil {
		seg, err := s.segs.get(windowStart)
		if err != nil || seg == nil {
			return err
		}
		return s.segs.wrote(seg.Put(WindowKey(key, windowStart), nil))
	}
	seg, err := s.segs.getOrCreate(windowStart)
	if err != nil {
		return err
	}
	return s.segs.wrote(seg.Put(s.encode(key, windowStart), value))
}

func (s *windowStore) Fetch(key []byte, windowStart int64) ([]byte, error) {
	if windowStart < s.segs.minLive() {
		return nil, nil
	}
	seg, err := s.segs.get(windowStart)
	if err != nil || seg == nil {
		return nil, err
	}
	if !s.retainDup {
		v, err := seg.Get(WindowKey(key, windowStart))
		return v, s.segs.segErr(err)
	}
	lo := WindowKey(key, windowStart)
	it, err := seg.Scan(lo, append(lo, maxSuffix[:seqSize]...), true, false)
	if err != nil {
		return nil, s.segs.segErr(err)
	}
	defer it.Close()
	if it.Next() {
		return append([]byte(nil), it.Value()...), nil
	}
	return nil, segErr(it)
}

// keyTimeBounds returns the scan bounds of key's windows in [from, to].
func (s *windowStore) keyTimeBounds(key []byte, from, to int64) (lo, hi []byte) {
	p := keyPrefix(key)
	lo = appendTime(p, from)
	hi = appendTime(append([]byte(nil), p...), to)
	if s.retainDup {
		hi = append(hi, maxSuffix[:seqSize]...)
	}
	return lo, hi
}

func (s *windowStore) FetchRange(key []byte, timeFrom, timeTo int64) (WindowIterator, error) {
	return s.fetchRange(key, timeFrom, timeTo, false)
}

func (s *windowStore) BackwardFetchRange(key []byte, timeFrom, timeTo int64) (WindowIterator, error) {
	return s.fetchRange(key, timeFrom, timeTo, true)
}

func (s *windowStore) fetchRange(key []byte, from, to int64, reverse bool) (WindowIterator, error) {
	from = max(from, s.segs.minLive())
	if from > to {
		return s.newIter(nil, from, to)
	}
	segs, err := s.segs.between(from, to, reverse)
	if err != nil {
		return nil, err
	}
	lo, hi := s.keyTimeBounds(key, from, to)
	it, err := s.newIter(&chainIter{segs: segs, scan: segScan{lo: lo, hi: hi, hiIncl: true, reverse: reverse}}, from, to)
	// Every entry of the range has key's prefix: Next reads the window
	// start behind it and need not decode (unescape, copy) the key.
	it.plen = len(lo) - timeSize
	if bytes.IndexByte(key, escByte) >= 0 {
		it.fixed = append([]byte(nil), key...)
	}
	return it, err
}

// FetchKeyRange returns the windows of keys in [keyFrom, keyTo] with start
// in [timeFrom, timeTo], ordered by key then window start (merged across
// segments).
func (s *windowStore) FetchKeyRange(keyFrom, keyTo []byte, timeFrom, timeTo int64) (WindowIterator, error) {
	return s.fetchKeyRange(keyFrom, keyTo, timeFrom, timeTo, false)
}

// BackwardFetchKeyRange is FetchKeyRange in reverse order.
func (s *windowStore) BackwardFetchKeyRange(keyFrom, keyTo []byte, timeFrom, timeTo int64) (WindowIterator, error) {
	return s.fetchKeyRange(keyFrom, keyTo, timeFrom, timeTo, true)
}

func (s *windowStore) fetchKeyRange(keyFrom, keyTo []byte, from, to int64, reverse bool) (WindowIterator, error) {
	from = max(from, s.segs.minLive())
	if from > to || (keyFrom != nil && keyTo != nil && bytes.Compare(keyFrom, keyTo) > 0) {
		return s.newIter(nil, from, to)
	}
	segs, err := s.segs.between(from, to, reverse)
	if err != nil {
		return nil, err
	}
	sc := segScan{reverse: reverse}
	if keyFrom != nil {
		sc.lo = appendTime(keyPrefix(keyFrom), from)
	}
	if keyTo != nil {
		sc.hi = keyPrefixEnd(keyTo)
	}
	m, err := newMergeIter(segs, sc)
	if err != nil {
		return nil, err
	}
	return s.newIter(m, from, to)
}

// All returns every retained window ordered by key, then window start.
func (s *windowStore) All() (WindowIterator, error) {
	return s.fetchKeyRange(nil, nil, minTime, maxTime, false)
}

// BackwardAll is All in reverse order.
func (s *windowStore) BackwardAll() (WindowIterator, error) {
	return s.fetchKeyRange(nil, nil, minTime, maxTime, true)
}

// FetchAll returns every window with start in [timeFrom, timeTo] ordered by
// window start, then key. Windows are stored by key first, so each segment
// in the range is read whole and its windows in the time range are sorted
// in memory (one segment's worth at a time).
func (s *windowStore) FetchAll(timeFrom, timeTo int64) (WindowIterator, error) {
	return s.fetchAll(timeFrom, timeTo, false)
}

// BackwardFetchAll is FetchAll in reverse order.
func (s *windowStore) BackwardFetchAll(timeFrom, timeTo int64) (WindowIterator, error) {
	return s.fetchAll(timeFrom, timeTo, true)
}

func (s *windowStore) fetchAll(from, to int64, reverse bool) (WindowIterator, error) {
	from = max(from, s.segs.minLive())
	if from > to {
		return s.newIter(nil, from, to)
	}
	segs, err := s.segs.between(from, to, reverse)
	if err != nil {
		return nil, err
	}
	return s.newIter(&timeSortIter{segs: segs, from: from, to: to, reverse: reverse}, from, to)
}

func (s *windowStore) newIter(src KeyValueIterator, from, to int64) (*windowIter, error) {
	s.iters.Opened()
	return &windowIter{owner: &s.iters, src: src, from: from, to: to}, nil
}

// windowIter decodes window keys and keeps the windows of [from, to].
type windowIter struct {
	owner    *iterCount
	src      KeyValueIterator
	from, to int64
	key      []byte
	start    int64
	value    []byte
	err      error
	closed   bool
	// plen, when set, is the length of the encoded prefix every entry's
	// key shares (a one-key fetch); fixed is then that key when it had to
	// be escaped, else nil (the prefix holds it as it is).
	plen  int
	fixed []byte
}

// decode splits an entry's encoded key.
func (it *windowIter) decode(enc []byte) (key []byte, start int64, err error) {
	if it.plen == 0 {
		key, start, _, err = DecodeWindowKey(enc)
		return key, start, err
	}
	rest := enc[min(it.plen, len(enc)):]
	if len(rest) != timeSize && len(rest) != timeSize+seqSize {
		return nil, 0, ErrBadKey
	}
	key = it.fixed
	if key == nil {
		key = enc[: it.plen-2 : it.plen-2] // less the terminator
	}
	return key, decodeTime(binary.BigEndian.Uint64(rest)), nil
}

func (it *windowIter) Next() bool {
	if it.closed || it.err != nil || it.src == nil {
		return false
	}
	for it.src.Next() {
		k, start, err := it.decode(it.src.Key())
		if err != nil {
			it.err = err
			return false
		}
		if start < it.from || start > it.to {
			continue
		}
		it.key, it.start, it.value = k, start, it.src.Value()
		return true
	}
	it.err = it.src.Err()
	it.key, it.value = nil, nil
	return false
}

func (it *windowIter) Key() []byte        { return it.key }
func (it *windowIter) WindowStart() int64 { return it.start }
func (it *windowIter) Value() []byte      { return it.value }
func (it *windowIter) Err() error         { return it.err }

func (it *windowIter) Close() error {
	if it.closed {
		return nil
	}
	it.closed = true
	if it.src != nil {
		it.src.Close()
	}
	it.owner.Closed()
	return nil
}

// timeSortIter reads segments one at a time, keeps the window entries in
// [from, to] and returns them sorted by (window start, encoded key).
type timeSortIter struct {
	segs     []segmentKV
	from, to int64
	reverse  bool
	buf      []tsItem
	pos      int
	err      error
}

type tsItem struct {
	start      int64
	key, value []byte
}

func (t *timeSortIter) load(seg segmentKV) error {
	t.buf, t.pos = t.buf[:0], 0
	it, err := (segScan{}).open(seg)
	if err != nil || it == nil {
		return err
	}
	defer it.Close()
	for it.Next() {
		k := it.Key()
		_, start, _, err := DecodeWindowKey(k)
		if err != nil {
			return err
		}
		if start < t.from || start > t.to {
			continue
		}
		t.buf = append(t.buf, tsItem{start: start, key: append([]byte(nil), k...), value: append([]byte(nil), it.Value()...)})
	}
	if err := segErr(it); err != nil {
		return err
	}
	sort.Slice(t.buf, func(i, j int) bool {
		a, b := &t.buf[i], &t.buf[j]
		less := a.start < b.start || (a.start == b.start && bytes.Compare(a.key, b.key) < 0)
		if t.reverse {
			return !less && (a.start != b.start || !bytes.Equal(a.key, b.key))
		}
		return less
	})
	return nil
}

func (t *timeSortIter) Next() bool {
	for t.err == nil {
		if t.pos < len(t.buf) {
			t.pos++
			return true
		}
		if len(t.segs) == 0 {
			t.buf = nil
			return false
		}
		t.err = t.load(t.segs[0])
		t.segs = t.segs[1:]
	}
	return false
}

func (t *timeSortIter) Key() []byte   { return t.buf[t.pos-1].key }
func (t *timeSortIter) Value() []byte { return t.buf[t.pos-1].value }
func (t *timeSortIter) Err() error    { return t.err }
func (t *timeSortIter) Close() error {
	t.segs, t.buf = nil, nil
	return nil
}
