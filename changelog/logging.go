package changelog

import (
	"time"

	"github.com/kafki/kafki/serde"
	"github.com/kafki/kafki/state"
)

// Sink receives the changelog records of logged stores (state.ChangelogSink).
type Sink = state.ChangelogSink

// Logged is implemented by the logging wrappers (state.LoggedStore): Unwrap
// returns the store they write to, which is the store restoration writes to
// directly.
type Logged = state.LoggedStore

// The logging wrappers live in package state, next to the record cache,
// so that the one store stack (state.BuildStore) can be assembled by the
// runtime and by the test driver, which must not depend on a Kafka client.
// The constructors below keep the timestamp-function form for callers
// outside a task (tools, tests).

// clockSink stamps every changelog record with its timestamp function.
type clockSink struct {
	Sink
	timestamp func() int64
}

func (s clockSink) Send(topic string, partition int32, key, value []byte, headers []serde.Header, _ int64) error {
	return s.Sink.Send(topic, partition, key, value, headers, s.timestamp())
}

func withClock(sink Sink, timestamp func() int64) Sink {
	if timestamp == nil {
		timestamp = func() int64 { return time.Now().UnixMilli() }
	}
	return clockSink{Sink: sink, timestamp: timestamp}
}

// NewLoggingKeyValueStore wraps inner so that every change — Put, a
// PutIfAbsent that stored, PutAll, Delete — is also written to partition
// of the changelog topic through sink, a delete (or a nil value) as a
// tombstone (see state.NewLoggingKeyValueStore). timestamp gives the
// timestamp of changelog records; nil means the wall clock.
func NewLoggingKeyValueStore(inner state.KeyValueStore, topic string, partition int32, sink Sink, timestamp func() int64) state.KeyValueStore {
	return state.NewLoggingKeyValueStore(inner, state.Changelog{Topic: topic, Partition: partition, Sink: withClock(sink, timestamp)})
}

// NewLoggingWindowStore wraps inner so that every Put is also written to the
// changelog, keyed by WindowChangelogKey (see state.NewLoggingWindowStore).
func NewLoggingWindowStore(inner state.WindowStore, retainDuplicates bool, topic string, partition int32, sink Sink, timestamp func() int64) state.WindowStore {
	return state.NewLoggingWindowStore(inner, retainDuplicates, state.Changelog{Topic: topic, Partition: partition, Sink: withClock(sink, timestamp)})
}

// NewLoggingSessionStore wraps inner so that every Put and Remove is also
// written to the changelog, keyed by SessionChangelogKey (see
// state.NewLoggingSessionStore).
func NewLoggingSessionStore(inner state.SessionStore, topic string, partition int32, sink Sink, timestamp func() int64) state.SessionStore {
	return state.NewLoggingSessionStore(inner, state.Changelog{Topic: topic, Partition: partition, Sink: withClock(sink, timestamp)})
}
