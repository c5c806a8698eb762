package stream_test

import (
	"bytes"
	"fmt"
	"slices"

	"github.com/kafki/kafki/state"
)

// The tests run the DSL's window and session processors against the
// state.WindowStore and state.SessionStore contracts through these small
// sorted-slice stores, so that stream/ tests do not depend on the engines'
// progress. They honour retention and duplicates as the contract says.

func openStores(spec state.Spec) (state.Store, error) {
	switch spec.Kind {
	case state.KindKeyValue:
		return state.NewInMemoryKeyValueStore(spec.Name), nil
	case state.KindWindow:
		return &memWindow{name: spec.Name, retention: spec.Retention.Milliseconds(), dups: spec.RetainDuplicates, observed: -1}, nil
	case state.KindSession:
		return &memSession{name: spec.Name, retention: spec.Retention.Milliseconds(), observed: -1}, nil
	}
	return nil, fmt.Errorf("no test store of kind %d", spec.Kind)
}

type wEntry struct {
	key   []byte
	start int64
	seq   int
	value []byte
}

type memWindow struct {
	name      string
	retention int64
	dups      bool
	observed  int64
	seq       int
	entries   []wEntry // by key, start, seq
}

func (m *memWindow) Name() string     { return m.name }
func (m *memWindow) Persistent() bool { return false }
func (m *memWindow) Flush() error     { return nil }
func (m *memWindow) Close() error     { return nil }

func cmpW(a, b wEntry) int {
	if c := bytes.Compare(a.key, b.key); c != 0 {
		return c
	}
	if a.start != b.start {
		return int(max(-1, min(1, a.start-b.start)))
	}
	return a.seq - b.seq
}

func (m *memWindow) expire() {
	limit := m.observed - m.retention
	m.entries = slices.DeleteFunc(m.entries, func(e wEntry) bool { return e.start <= limit })
}

func (m *memWindow) Put(key, value []byte, start int64) error {
	m.observed = max(m.observed, start)
	if !m.dups {
		i := slices.IndexFunc(m.entries, func(e wEntry) bool { return bytes.Equal(e.key, key) && e.start == start })
		if i >= 0 {
			if value == nil {
				m.entries = slices.Delete(m.entries, i, i+1)
			} else {
				m.entries[i].value = slices.Clone(value)
			}
			m.expire()
			return nil
		}
	}
	if value != nil {
		m.seq++
		e := wEntry{key: slices.Clone(key), start: start, seq: m.seq, value: slices.Clone(value)}
		i, _ := slices.BinarySearchFunc(m.entries, e, cmpW)
		m.entries = slices.Insert(m.entries, i, e)
	}
	m.expire()
	return nil
}

func (m *memWindow) Fetch(key []byte, start int64) ([]byte, error) {
	for _, e := range m.entries {
		if bytes.Equal(e.key, key) && e.start == start {
			return e.value, nil
		}
	}
	return nil, nil
}

func (m *memWindow) filter(keep func(wEntry) bool, reverse bool) *wIter {
	var out []wEntry
	for _, e := range m.entries {
		if keep(e) {
			out = append(out, e)
		}
	}
	if reverse {
		slices.Reverse(out)
	}
	return &wIter{entries: out, i: -1}
}

func (m *memWindow) FetchRange(key []byte, from, to int64) (state.WindowIterator, error) {
	return m.filter(func(e wEntry) bool { return bytes.Equal(e.key, key) && e.start >= from && e.start <= to }, false), nil
}

func (m *memWindow) BackwardFetchRange(key []byte, from, to int64) (state.WindowIterator, error) {
	return m.filter(func(e wEntry) bool { return bytes.Equal(e.key, key) && e.start >= from && e.start <= to }, true), nil
}

func (m *memWindow) FetchKeyRange(kf, kt []byte, from, to int64) (state.WindowIterator, error) {
	return m.filter(func(e wEntry) bool {
		return (kf == nil || bytes.Compare(e.key, kf) >= 0) && (kt == nil || bytes.Compare(e.key, kt) <= 0) && e.start >= from && e.start <= to
	}, false), nil
}

func (m *memWindow) FetchAll(from, to int64) (state.WindowIterator, error) {
	it := m.filter(func(e wEntry) bool { return e.start >= from && e.start <= to }, false)
	slices.SortStableFunc(it.entries, func(a, b wEntry) int { return int(max(-1, min(1, a.start-b.start))) })
	return it, nil
}

func (m *memWindow) All() (state.WindowIterator, error) {
	return m.filter(func(wEntry) bool { return true }, false), nil
}

type wIter struct {
	entries []wEntry
	i       int
}

func (it *wIter) Next() bool         { it.i++; return it.i < len(it.entries) }
func (it *wIter) Key() []byte        { return it.entries[it.i].key }
func (it *wIter) WindowStart() int64 { return it.entries[it.i].start }
func (it *wIter) Value() []byte      { return it.entries[it.i].value }
func (it *wIter) Err() error         { return nil }
func (it *wIter) Close() error       { return nil }

type sEntry struct {
	key        []byte
	start, end int64
	value      []byte
}

type memSession struct {
	name      string
	retention int64
	observed  int64
	entries   []sEntry // by key, end, start
}

func (m *memSession) Name() string     { return m.name }
func (m *memSession) Persistent() bool { return false }
func (m *memSession) Flush() error     { return nil }
func (m *memSession) Close() error     { return nil }

func (m *memSession) iter(keep func(sEntry) bool) *sIter {
	var out []sEntry
	for _, e := range m.entries {
		if keep(e) && e.end > m.observed-m.retention {
			out = append(out, e)
		}
	}
	return &sIter{entries: out, i: -1}
}

func (m *memSession) FindSessions(key []byte, earliestEnd, latestStart int64) (state.SessionIterator, error) {
	return m.iter(func(e sEntry) bool { return bytes.Equal(e.key, key) && e.end >= earliestEnd && e.start <= latestStart }), nil
}

func (m *memSession) FetchSession(key []byte, start, end int64) ([]byte, error) {
	for _, e := range m.entries {
		if bytes.Equal(e.key, key) && e.start == start && e.end == end {
			return e.value, nil
		}
	}
	return nil, nil
}

func (m *memSession) Fetch(key []byte) (state.SessionIterator, error) {
	return m.iter(func(e sEntry) bool { return bytes.Equal(e.key, key) }), nil
}

func (m *memSession) Put(key []byte, start, end int64, value []byte) error {
	if err := m.Remove(key, start, end); err != nil || value == nil {
		return err
	}
	m.observed = max(m.observed, end)
	e := sEntry{key: slices.Clone(key), start: start, end: end, value: slices.Clone(value)}
	i, _ := slices.BinarySearchFunc(m.entries, e, func(a, b sEntry) int {
		if c := bytes.Compare(a.key, b.key); c != 0 {
			return c
		}
		if a.end != b.end {
			return int(max(-1, min(1, a.end-b.end)))
		}
		return int(max(-1, min(1, a.start-b.start)))
	})
	m.entries = slices.Insert(m.entries, i, e)
	return nil
}

func (m *memSession) Remove(key []byte, start, end int64) error {
	m.entries = slices.DeleteFunc(m.entries, func(e sEntry) bool {
		return bytes.Equal(e.key, key) && e.start == start && e.end == end
	})
	return nil
}

type sIter struct {
	entries []sEntry
	i       int
}

func (it *sIter) Next() bool    { it.i++; return it.i < len(it.entries) }
func (it *sIter) Key() []byte   { return it.entries[it.i].key }
func (it *sIter) Start() int64  { return it.entries[it.i].start }
func (it *sIter) End() int64    { return it.entries[it.i].end }
func (it *sIter) Value() []byte { return it.entries[it.i].value }
func (it *sIter) Err() error    { return nil }
func (it *sIter) Close() error  { return nil }
