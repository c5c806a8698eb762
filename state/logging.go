package state

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"time"

	"github.com/kafki/kafki/serde"
)

// RecordContext is the context of the record a task is processing: the
// timestamp and headers of the record the current processor received, and
// the origin of the input record. The task updates one RecordContext as
// records go through its processors, and the stores of its stack read it
// when they are written: a record cache keeps a copy with each entry and
// puts it back while it writes the entry below and forwards it, so that a
// changelog record and a forwarded update carry the context of the write
// that made them, as Kafka Streams' ProcessorRecordContext does.
type RecordContext struct {
	Timestamp int64
	Headers   []serde.Header
	Topic     string
	Partition int32
	Offset    int64
}

// ChangelogSink receives the changelog records of logged stores. It has the
// method set of topology.RecordCollector, so the runtime's record collector
// serves both the processors' sinks and the changelogs.
//
// Send is called after the change was applied to the store, with the
// caller's key and value slices: a sink that keeps them past the call (an
// asynchronous producer does) relies on the store contract that callers do
// not modify slices they have passed to a store.
type ChangelogSink interface {
	Send(topic string, partition int32, key, value []byte, headers []serde.Header, timestamp int64) error
}

// Changelog names where a logging store writes.
type Changelog struct {
	Topic     string
	Partition int32
	Sink      ChangelogSink
	// Context is the task's record context, whose timestamp the changelog
	// records carry; nil means the wall clock.
	Context *RecordContext
}

// LoggedStore is implemented by the logging wrappers: Unwrap returns the
// store they write to, which is the store restoration writes to directly.
type LoggedStore interface {
	Store
	Unwrap() Store
	// ChangelogTopicPartition is where the wrapper writes.
	ChangelogTopicPartition() (topic string, partition int32)
}

type changeLogger struct{ cl Changelog }

func (l *changeLogger) log(key, value []byte) error {
	var ts int64
	if l.cl.Context != nil {
		ts = l.cl.Context.Timestamp
	} else {
		ts = time.Now().UnixMilli()
	}
	// Changelog records carry no headers, as in Kafka Streams without
	// position tracking: restoration needs key and value only.
	return l.cl.Sink.Send(l.cl.Topic, l.cl.Partition, key, value, nil, ts)
}

func (l *changeLogger) ChangelogTopicPartition() (string, int32) { return l.cl.Topic, l.cl.Partition }

// NewLoggingKeyValueStore wraps inner so that every change — Put, a
// PutIfAbsent that stored, PutAll, Delete — is also written to the
// changelog, a delete (or a nil value) as a tombstone. Reads go straight
// to inner.
func NewLoggingKeyValueStore(inner KeyValueStore, cl Changelog) KeyValueStore {
	s := &loggingKeyValueStore{KeyValueStore: inner, changeLogger: changeLogger{cl}}
	s.owned, _ = inner.(ownedPutter)
	s.keyed, _ = inner.(keyedPutter)
	return s
}

// ownedPutter is a store that can keep a value slice handed over to it
// instead of copying it (the write-back buffer): see PutOwned.
type ownedPutter interface {
	PutOwned(key, value []byte) error
}

// keyedPutter is a store whose owned put returns its own copy of the key,
// never modified afterwards (the write-back buffer): see PutOwnedKeyed.
type keyedPutter interface {
	PutOwnedKeyed(key, value []byte) ([]byte, error)
}

type loggingKeyValueStore struct {
	KeyValueStore
	changeLogger
	owned ownedPutter // the inner store when it is one
	keyed keyedPutter // likewise
}

// PutOwned is Put for a value the caller will never modify again: the
// store below keeps it rather than a copy when it can, and the changelog
// record carries the same slice.
func (s *loggingKeyValueStore) PutOwned(key, value []byte) error {
	var err error
	if s.owned != nil {
		err = s.owned.PutOwned(key, value)
	} else {
		err = s.KeyValueStore.Put(key, value)
	}
	if err != nil {
		return err
	}
	return s.log(key, value)
}

// PutOwnedBorrowedKey is PutOwned for a key the caller only lends for the
// call and reuses afterwards (a scratch buffer): the changelog record,
// which the producer holds until the broker acknowledges it, carries the
// store's own copy of the key when the store below keeps one (the
// write-back buffer), and a copy made here otherwise. The table stores
// encode each record's key into a scratch buffer with it: the key was an
// allocation per update, made only for the changelog record.
func (s *loggingKeyValueStore) PutOwnedBorrowedKey(key, value []byte) error {
	if s.keyed == nil {
		return s.PutOwned(bytes.Clone(key), value)
	}
	kept, err := s.keyed.PutOwnedKeyed(key, value)
	if err != nil {
		return err
	}
	return s.log(kept, value)
}

func (s *loggingKeyValueStore) Unwrap() Store { return s.KeyValueStore }

func (s *loggingKeyValueStore) Put(key, value []byte) error {
	if err := s.KeyValueStore.Put(key, value); err != nil {
		return err
	}
	return s.log(key, value)
}

func (s *loggingKeyValueStore) PutIfAbsent(key, value []byte) ([]byte, error) {
	prev, err := s.KeyValueStore.PutIfAbsent(key, value)
	if err != nil || prev != nil {
		return prev, err
	}
	return nil, s.log(key, value)
}

func (s *loggingKeyValueStore) PutAll(entries []KeyValue) error {
	return s.putAllWithContexts(entries, nil)
}

// putAllWithContexts writes entries in one batch and logs each with its
// own record context (a record cache's flush); nil ctxs logs them all with
// the current one.
func (s *loggingKeyValueStore) putAllWithContexts(entries []KeyValue, ctxs []RecordContext) error {
	if err := s.KeyValueStore.PutAll(entries); err != nil {
		return err
	}
	rc := s.cl.Context
	if ctxs != nil && rc != nil {
		saved := *rc
		defer func() { *rc = saved }()
	}
	for i, e := range entries {
		if ctxs != nil && rc != nil {
			*rc = ctxs[i]
		}
		if err := s.log(e.Key, e.Value); err != nil {
			return err
		}
	}
	return nil
}

func (s *loggingKeyValueStore) Delete(key []byte) ([]byte, error) {
	prev, err := s.KeyValueStore.Delete(key)
	if err != nil {
		return prev, err
	}
	return prev, s.log(key, nil)
}

// NewLoggingWindowStore wraps inner so that every Put is also written to the
// changelog, keyed by WindowChangelogKey. When the store retains duplicates
// each Put gets its own sequence number so that compaction keeps them all,
// and a nil value (which such a store ignores) is not logged.
func NewLoggingWindowStore(inner WindowStore, retainDuplicates bool, cl Changelog) WindowStore {
	return &loggingWindowStore{WindowStore: inner, dups: retainDuplicates, changeLogger: changeLogger{cl}}
}

type loggingWindowStore struct {
	WindowStore
	changeLogger
	dups bool
	seq  uint32
}

func (s *loggingWindowStore) Unwrap() Store { return s.WindowStore }

func (s *loggingWindowStore) Put(key, value []byte, windowStart int64) error {
	if s.dups && value == nil {
		return s.WindowStore.Put(key, value, windowStart)
	}
	if err := s.WindowStore.Put(key, value, windowStart); err != nil {
		return err
	}
	var seq uint32
	if s.dups {
		s.seq = (s.seq + 1) & 0x7fffffff
		seq = s.seq
	}
	return s.log(WindowChangelogKey(key, windowStart, seq), value)
}

// NewLoggingSessionStore wraps inner so that every Put and Remove is also
// written to the changelog, keyed by SessionChangelogKey; a Remove (or a nil
// value) is a tombstone.
func NewLoggingSessionStore(inner SessionStore, cl Changelog) SessionStore {
	s := &loggingSessionStore{SessionStore: inner, changeLogger: changeLogger{cl}}
	if to, ok := inner.(TimeOrderedSessionStore); ok {
		return &loggingTimeOrderedSessionStore{loggingSessionStore: s, byEnd: to}
	}
	return s
}

// loggingTimeOrderedSessionStore keeps the reads by end time of a
// time-ordered session store; they log nothing.
type loggingTimeOrderedSessionStore struct {
	*loggingSessionStore
	byEnd TimeOrderedSessionStore
}

func (s *loggingTimeOrderedSessionStore) FindSessionsByEnd(earliestEnd, latestEnd int64) (SessionIterator, error) {
	return s.byEnd.FindSessionsByEnd(earliestEnd, latestEnd)
}

type loggingSessionStore struct {
	SessionStore
	changeLogger
}

func (s *loggingSessionStore) Unwrap() Store { return s.SessionStore }

func (s *loggingSessionStore) Put(key []byte, start, end int64, value []byte) error {
	if err := s.SessionStore.Put(key, start, end, value); err != nil {
		return err
	}
	return s.log(SessionChangelogKey(key, start, end), value)
}

func (s *loggingSessionStore) Remove(key []byte, start, end int64) error {
	if err := s.SessionStore.Remove(key, start, end); err != nil {
		return err
	}
	return s.log(SessionChangelogKey(key, start, end), nil)
}

// Changelog keys of window and session stores carry the window or session
// bounds after the record key, in Kafka Streams' wire format, so that
// compaction keeps one record per window or session:
//
//	window:  key | window start (8 bytes, big-endian) | sequence number (4 bytes)
//	session: key | session end (8 bytes)               | session start (8 bytes)
//
// The sequence number tells apart the duplicates of a window store that
// retains them; it is 0 otherwise.
//
// This is the changelog's wire format, not the stores' on-disk keys
// (WindowKey, SessionKey), which escape the record key so that encoded
// keys sort by (key, time); the changelog needs no order, and keeping
// Kafka Streams' layout lets its tools read Kafki's changelogs.
const (
	windowChangelogSuffix  = 8 + 4
	sessionChangelogSuffix = 8 + 8
)

// WindowChangelogKey encodes the changelog key of one window.
func WindowChangelogKey(key []byte, windowStart int64, seq uint32) []byte {
	b := make([]byte, len(key)+windowChangelogSuffix)
	n := copy(b, key)
	binary.BigEndian.PutUint64(b[n:], uint64(windowStart))
	binary.BigEndian.PutUint32(b[n+8:], seq)
	return b
}

// DecodeWindowChangelogKey splits a window changelog key. The returned key
// aliases b.
func DecodeWindowChangelogKey(b []byte) (key []byte, windowStart int64, seq uint32, err error) {
	if len(b) < windowChangelogSuffix {
		return nil, 0, 0, fmt.Errorf("state: window changelog key of %d bytes is shorter than %d", len(b), windowChangelogSuffix)
	}
	n := len(b) - windowChangelogSuffix
	return b[:n:n], int64(binary.BigEndian.Uint64(b[n:])), binary.BigEndian.Uint32(b[n+8:]), nil
}

// SessionChangelogKey encodes the changelog key of one session.
func SessionChangelogKey(key []byte, start, end int64) []byte {
	b := make([]byte, len(key)+sessionChangelogSuffix)
	n := copy(b, key)
	binary.BigEndian.PutUint64(b[n:], uint64(end))
	binary.BigEndian.PutUint64(b[n+8:], uint64(start))
	return b
}

// DecodeSessionChangelogKey splits a session changelog key. The returned key
// aliases b.
func DecodeSessionChangelogKey(b []byte) (key []byte, start, end int64, err error) {
	if len(b) < sessionChangelogSuffix {
		return nil, 0, 0, fmt.Errorf("state: session changelog key of %d bytes is shorter than %d", len(b), sessionChangelogSuffix)
	}
	n := len(b) - sessionChangelogSuffix
	return b[:n:n], int64(binary.BigEndian.Uint64(b[n+8:])), int64(binary.BigEndian.Uint64(b[n:])), nil
}
