package changelog

import (
	"time"

	"github.com/kafki/kafki/serde"
	"github.com/kafki/kafki/state"
)

// Sink receives the changelog records of logged stores. It has the method
// set of topology.RecordCollector, so the runtime's record collector serves
// both the processors' sinks and the changelogs.
//
// Send is called after the change was applied to the store, with the
// caller's key and value slices: a Sink that keeps them past the call (an
// asynchronous producer does) relies on the store contract that callers do
// not modify slices they have passed to a store.
type Sink interface {
	Send(topic string, partition int32, key, value []byte, headers []serde.Header, timestamp int64) error
}

// Logged is implemented by the logging wrappers: Unwrap returns the store
// they write to, which is the store restoration writes to directly.
type Logged interface {
	state.Store
	Unwrap() state.Store
	// ChangelogPartition is where the wrapper writes.
	ChangelogPartition() TopicPartition
}

type logger struct {
	topic     string
	partition int32
	sink      Sink
	timestamp func() int64
}

func newLogger(topic string, partition int32, sink Sink, timestamp func() int64) logger {
	if timestamp == nil {
		timestamp = func() int64 { return time.Now().UnixMilli() }
	}
	return logger{topic: topic, partition: partition, sink: sink, timestamp: timestamp}
}

func (l *logger) log(key, value []byte) error {
	return l.sink.Send(l.topic, l.partition, key, value, nil, l.timestamp())
}

func (l *logger) ChangelogPartition() TopicPartition {
	return TopicPartition{Topic: l.topic, Partition: l.partition}
}

// NewLoggingKeyValueStore wraps inner so that every change — Put, a
// PutIfAbsent that stored, PutAll, Delete — is also written to partition
// of the changelog topic through sink, a delete (or a nil value) as a
// tombstone. timestamp gives the timestamp of changelog records (the
// timestamp of the record being processed); nil means the wall clock.
// Reads go straight to inner.
func NewLoggingKeyValueStore(inner state.KeyValueStore, topic string, partition int32, sink Sink, timestamp func() int64) state.KeyValueStore {
	return &loggingKeyValueStore{KeyValueStore: inner, logger: newLogger(topic, partition, sink, timestamp)}
}

type loggingKeyValueStore struct {
	state.KeyValueStore
	logger
}

func (s *loggingKeyValueStore) Unwrap() state.Store { return s.KeyValueStore }

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

func (s *loggingKeyValueStore) PutAll(entries []state.KeyValue) error {
	if err := s.KeyValueStore.PutAll(entries); err != nil {
		return err
	}
	for _, e := range entries {
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
func NewLoggingWindowStore(inner state.WindowStore, retainDuplicates bool, topic string, partition int32, sink Sink, timestamp func() int64) state.WindowStore {
	return &loggingWindowStore{WindowStore: inner, dups: retainDuplicates, logger: newLogger(topic, partition, sink, timestamp)}
}

type loggingWindowStore struct {
	state.WindowStore
	logger
	dups bool
	seq  uint32
}

func (s *loggingWindowStore) Unwrap() state.Store { return s.WindowStore }

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
func NewLoggingSessionStore(inner state.SessionStore, topic string, partition int32, sink Sink, timestamp func() int64) state.SessionStore {
	return &loggingSessionStore{SessionStore: inner, logger: newLogger(topic, partition, sink, timestamp)}
}

type loggingSessionStore struct {
	state.SessionStore
	logger
}

func (s *loggingSessionStore) Unwrap() state.Store { return s.SessionStore }

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
