package state

import (
	"time"

	"github.com/kafki/kafki/internal/kafkatime"
	"github.com/kafki/kafki/serde"
)

// Typed stores: thin wrappers that serialize keys and values through serdes
// over a byte store. The serdes see the store's name as the topic (Kafka
// Streams passes the changelog topic; serdes rarely care) and no headers.
// Their times are time.Time, converted to and from the epoch milliseconds
// the byte stores keep (finer parts are dropped) at the call.

// ValueAndTimestamp is a value with the timestamp of the record that wrote
// it, as timestamped stores keep them. Timestamp is whole milliseconds; a
// zero Timestamp is stored as Kafka's "no timestamp" (-1) and reads back
// as zero.
type ValueAndTimestamp[V any] struct {
	Value     V
	Timestamp time.Time
}

// TimestampedSerde turns a value serde into one for ValueAndTimestamp,
// writing EncodeTimestamped bytes.
func TimestampedSerde[V any](values serde.Serde[V]) serde.Serde[ValueAndTimestamp[V]] {
	return timestampedSerde[V]{values}
}

type timestampedSerde[V any] struct{ values serde.Serde[V] }

func (s timestampedSerde[V]) Serialize(topic string, h []serde.Header, v ValueAndTimestamp[V]) ([]byte, error) {
	raw, err := s.values.Serialize(topic, h, v.Value)
	if err != nil {
		return nil, err
	}
	return AppendTimestamped(make([]byte, 0, TimestampSize+len(raw)), kafkatime.Millis(v.Timestamp), raw), nil
}

func (s timestampedSerde[V]) Deserialize(topic string, h []serde.Header, data []byte) (ValueAndTimestamp[V], error) {
	ts, raw, err := DecodeTimestamped(data)
	if err != nil {
		return ValueAndTimestamp[V]{}, err
	}
	v, err := s.values.Deserialize(topic, h, raw)
	return ValueAndTimestamp[V]{Value: v, Timestamp: kafkatime.Time(ts)}, err
}

// encodeValue serializes v for a typed store: a value that serializes to
// nothing is stored as empty bytes, not as a delete.
func encodeValue[V any](values serde.Serde[V], topic string, v V) ([]byte, error) {
	vb, err := values.Serialize(topic, nil, v)
	if err != nil {
		return nil, err
	}
	if vb == nil {
		vb = []byte{}
	}
	return vb, nil
}

// decodeValue deserializes what a typed store read; ok is false when raw
// is nil (absent) or does not decode.
func decodeValue[V any](values serde.Serde[V], topic string, raw []byte) (v V, ok bool, err error) {
	if raw == nil {
		return v, false, nil
	}
	v, err = values.Deserialize(topic, nil, raw)
	return v, err == nil, err
}

// encodeBounds serializes the key bounds of a range; nil bounds stay nil
// (open).
func encodeBounds[K any](keys serde.Serde[K], topic string, from, to *K) (fb, tb []byte, err error) {
	if from != nil {
		if fb, err = keys.Serialize(topic, nil, *from); err != nil {
			return nil, nil, err
		}
	}
	if to != nil {
		if tb, err = keys.Serialize(topic, nil, *to); err != nil {
			return nil, nil, err
		}
	}
	return fb, tb, nil
}

// typedDecoder is what the typed iterators share: it decodes the current
// entry of the byte iterator below and keeps the first error.
type typedDecoder[K, V any] struct {
	keys   serde.Serde[K]
	values serde.Serde[V]
	topic  string
	key    K
	value  V
	err    error
}

// byteEntries is what the typed iterators read from the byte iterators.
type byteEntries interface {
	Next() bool
	Key() []byte
	Value() []byte
	Err() error
}

// next moves the byte iterator below and decodes its entry.
func (t *typedDecoder[K, V]) next(below byteEntries) bool {
	if t.err != nil || !below.Next() {
		return false
	}
	if t.key, t.err = t.keys.Deserialize(t.topic, nil, below.Key()); t.err != nil {
		return false
	}
	if t.value, t.err = t.values.Deserialize(t.topic, nil, below.Value()); t.err != nil {
		return false
	}
	return true
}

// errOr is the decoder's error, else below's.
func (t *typedDecoder[K, V]) errOr(below byteEntries) error {
	if t.err != nil {
		return t.err
	}
	return below.Err()
}

// TypedKeyValueStore is a KeyValueStore seen through serdes.
type TypedKeyValueStore[K, V any] struct {
	Store  KeyValueStore
	Keys   serde.Serde[K]
	Values serde.Serde[V]
	topic  string
}

// NewTypedKeyValueStore wraps store with key and value serdes.
func NewTypedKeyValueStore[K, V any](store KeyValueStore, keys serde.Serde[K], values serde.Serde[V]) *TypedKeyValueStore[K, V] {
	return &TypedKeyValueStore[K, V]{Store: store, Keys: keys, Values: values, topic: store.Name()}
}

// NewTimestampedKeyValueStore wraps store as a timestamped key-value store:
// values are kept with their record timestamp (EncodeTimestamped).
func NewTimestampedKeyValueStore[K, V any](store KeyValueStore, keys serde.Serde[K], values serde.Serde[V]) *TypedKeyValueStore[K, ValueAndTimestamp[V]] {
	return NewTypedKeyValueStore(store, keys, TimestampedSerde(values))
}

func (s *TypedKeyValueStore[K, V]) key(k K) ([]byte, error) {
	return s.Keys.Serialize(s.topic, nil, k)
}

func (s *TypedKeyValueStore[K, V]) value(raw []byte) (v V, ok bool, err error) {
	return decodeValue(s.Values, s.topic, raw)
}

// Get returns key's value; ok is false when it has none.
func (s *TypedKeyValueStore[K, V]) Get(key K) (v V, ok bool, err error) {
	kb, err := s.key(key)
	if err != nil {
		return v, false, err
	}
	raw, err := s.Store.Get(kb)
	if err != nil {
		return v, false, err
	}
	return s.value(raw)
}

// Put stores value under key. A value whose serde writes nothing is
// stored as an empty value, not as a delete: Delete removes a key.
func (s *TypedKeyValueStore[K, V]) Put(key K, value V) error {
	kb, err := s.key(key)
	if err != nil {
		return err
	}
	vb, err := encodeValue(s.Values, s.topic, value)
	if err != nil {
		return err
	}
	return s.Store.Put(kb, vb)
}

// PutIfAbsent stores value when key has none and returns the value that
// was there (ok false when absent).
func (s *TypedKeyValueStore[K, V]) PutIfAbsent(key K, value V) (old V, ok bool, err error) {
	kb, err := s.key(key)
	if err != nil {
		return old, false, err
	}
	vb, err := encodeValue(s.Values, s.topic, value)
	if err != nil {
		return old, false, err
	}
	raw, err := s.Store.PutIfAbsent(kb, vb)
	if err != nil {
		return old, false, err
	}
	return s.value(raw)
}

// Delete removes key and returns the value it had.
func (s *TypedKeyValueStore[K, V]) Delete(key K) (old V, ok bool, err error) {
	kb, err := s.key(key)
	if err != nil {
		return old, false, err
	}
	raw, err := s.Store.Delete(kb)
	if err != nil {
		return old, false, err
	}
	return s.value(raw)
}

// Range iterates keys in [from, to] by their serialized bytes; a nil bound
// is open.
func (s *TypedKeyValueStore[K, V]) Range(from, to *K) (*TypedKeyValueIterator[K, V], error) {
	return s.rangeIter(from, to, false)
}

// ReverseRange is Range from the last key to the first.
func (s *TypedKeyValueStore[K, V]) ReverseRange(from, to *K) (*TypedKeyValueIterator[K, V], error) {
	return s.rangeIter(from, to, true)
}

func (s *TypedKeyValueStore[K, V]) rangeIter(from, to *K, reverse bool) (*TypedKeyValueIterator[K, V], error) {
	fb, tb, err := encodeBounds(s.Keys, s.topic, from, to)
	if err != nil {
		return nil, err
	}
	var it KeyValueIterator
	if reverse {
		it, err = s.Store.ReverseRange(fb, tb)
	} else {
		it, err = s.Store.Range(fb, tb)
	}
	return s.wrap(it, err)
}

// PrefixScan iterates the keys whose serialized bytes start with prefix.
func (s *TypedKeyValueStore[K, V]) PrefixScan(prefix []byte) (*TypedKeyValueIterator[K, V], error) {
	return s.wrap(s.Store.PrefixScan(prefix))
}

// All iterates every key in the order of its serialized bytes.
func (s *TypedKeyValueStore[K, V]) All() (*TypedKeyValueIterator[K, V], error) {
	return s.wrap(s.Store.All())
}

// ReverseAll is All from the last key to the first.
func (s *TypedKeyValueStore[K, V]) ReverseAll() (*TypedKeyValueIterator[K, V], error) {
	return s.wrap(s.Store.ReverseAll())
}

func (s *TypedKeyValueStore[K, V]) wrap(it KeyValueIterator, err error) (*TypedKeyValueIterator[K, V], error) {
	if err != nil {
		return nil, err
	}
	return &TypedKeyValueIterator[K, V]{it: it, typedDecoder: typedDecoder[K, V]{keys: s.Keys, values: s.Values, topic: s.topic}}, nil
}

// TypedKeyValueIterator decodes a KeyValueIterator. Close it.
type TypedKeyValueIterator[K, V any] struct {
	typedDecoder[K, V]
	it KeyValueIterator
}

// Next moves to the next entry; false at the end or on an error (Err).
func (t *TypedKeyValueIterator[K, V]) Next() bool { return t.next(t.it) }

// Key is the current entry's key.
func (t *TypedKeyValueIterator[K, V]) Key() K { return t.key }

// Value is the current entry's value.
func (t *TypedKeyValueIterator[K, V]) Value() V { return t.value }

// Err is the error that ended the iteration: the store's, or a serde's
// for a key or value it could not decode.
func (t *TypedKeyValueIterator[K, V]) Err() error { return t.errOr(t.it) }

// Close releases the iterator (and, on RocksDB, its snapshot).
func (t *TypedKeyValueIterator[K, V]) Close() error { return t.it.Close() }

// TypedWindowStore is a WindowStore seen through serdes.
type TypedWindowStore[K, V any] struct {
	Store  WindowStore
	Keys   serde.Serde[K]
	Values serde.Serde[V]
	topic  string
}

// NewTypedWindowStore wraps store with key and value serdes.
func NewTypedWindowStore[K, V any](store WindowStore, keys serde.Serde[K], values serde.Serde[V]) *TypedWindowStore[K, V] {
	return &TypedWindowStore[K, V]{Store: store, Keys: keys, Values: values, topic: store.Name()}
}

// NewTimestampedWindowStore wraps store as a timestamped window store.
func NewTimestampedWindowStore[K, V any](store WindowStore, keys serde.Serde[K], values serde.Serde[V]) *TypedWindowStore[K, ValueAndTimestamp[V]] {
	return NewTypedWindowStore(store, keys, TimestampedSerde(values))
}

// Put writes key's window starting at windowStart.
func (s *TypedWindowStore[K, V]) Put(key K, value V, windowStart time.Time) error {
	kb, err := s.Keys.Serialize(s.topic, nil, key)
	if err != nil {
		return err
	}
	vb, err := encodeValue(s.Values, s.topic, value)
	if err != nil {
		return err
	}
	return s.Store.Put(kb, vb, windowStart.UnixMilli())
}

// Delete removes the window (key, windowStart).
func (s *TypedWindowStore[K, V]) Delete(key K, windowStart time.Time) error {
	kb, err := s.Keys.Serialize(s.topic, nil, key)
	if err != nil {
		return err
	}
	return s.Store.Put(kb, nil, windowStart.UnixMilli())
}

// Fetch returns key's window starting at windowStart; ok is false when
// there is none.
func (s *TypedWindowStore[K, V]) Fetch(key K, windowStart time.Time) (v V, ok bool, err error) {
	kb, err := s.Keys.Serialize(s.topic, nil, key)
	if err != nil {
		return v, false, err
	}
	raw, err := s.Store.Fetch(kb, windowStart.UnixMilli())
	if err != nil {
		return v, false, err
	}
	return decodeValue(s.Values, s.topic, raw)
}

// FetchRange iterates key's windows that start in [timeFrom, timeTo], by
// start time.
func (s *TypedWindowStore[K, V]) FetchRange(key K, timeFrom, timeTo time.Time) (*TypedWindowIterator[K, V], error) {
	kb, err := s.Keys.Serialize(s.topic, nil, key)
	if err != nil {
		return nil, err
	}
	return s.wrap(s.Store.FetchRange(kb, timeFrom.UnixMilli(), timeTo.UnixMilli()))
}

// BackwardFetchRange is FetchRange by descending start time.
func (s *TypedWindowStore[K, V]) BackwardFetchRange(key K, timeFrom, timeTo time.Time) (*TypedWindowIterator[K, V], error) {
	kb, err := s.Keys.Serialize(s.topic, nil, key)
	if err != nil {
		return nil, err
	}
	return s.wrap(s.Store.BackwardFetchRange(kb, timeFrom.UnixMilli(), timeTo.UnixMilli()))
}

// FetchKeyRange iterates the windows of the keys in [keyFrom, keyTo] (nil
// bounds are open) that start in [timeFrom, timeTo].
func (s *TypedWindowStore[K, V]) FetchKeyRange(keyFrom, keyTo *K, timeFrom, timeTo time.Time) (*TypedWindowIterator[K, V], error) {
	fb, tb, err := encodeBounds(s.Keys, s.topic, keyFrom, keyTo)
	if err != nil {
		return nil, err
	}
	return s.wrap(s.Store.FetchKeyRange(fb, tb, timeFrom.UnixMilli(), timeTo.UnixMilli()))
}

// FetchAll iterates every window that starts in [timeFrom, timeTo].
func (s *TypedWindowStore[K, V]) FetchAll(timeFrom, timeTo time.Time) (*TypedWindowIterator[K, V], error) {
	return s.wrap(s.Store.FetchAll(timeFrom.UnixMilli(), timeTo.UnixMilli()))
}

// All iterates every window of the store.
func (s *TypedWindowStore[K, V]) All() (*TypedWindowIterator[K, V], error) {
	return s.wrap(s.Store.All())
}

func (s *TypedWindowStore[K, V]) wrap(it WindowIterator, err error) (*TypedWindowIterator[K, V], error) {
	if err != nil {
		return nil, err
	}
	return &TypedWindowIterator[K, V]{it: it, typedDecoder: typedDecoder[K, V]{keys: s.Keys, values: s.Values, topic: s.topic}}, nil
}

// TypedWindowIterator decodes a WindowIterator. Close it.
type TypedWindowIterator[K, V any] struct {
	typedDecoder[K, V]
	it WindowIterator
}

// Next moves to the next window; false at the end or on an error (Err).
func (t *TypedWindowIterator[K, V]) Next() bool { return t.next(t.it) }

// Key is the current window's key.
func (t *TypedWindowIterator[K, V]) Key() K { return t.key }

// WindowStart is the current window's start.
func (t *TypedWindowIterator[K, V]) WindowStart() time.Time {
	return time.UnixMilli(t.it.WindowStart())
}

// Value is the current window's value.
func (t *TypedWindowIterator[K, V]) Value() V { return t.value }

// Err is the error that ended the iteration, if any.
func (t *TypedWindowIterator[K, V]) Err() error { return t.errOr(t.it) }

// Close releases the iterator.
func (t *TypedWindowIterator[K, V]) Close() error { return t.it.Close() }

// TypedSessionStore is a SessionStore seen through serdes.
type TypedSessionStore[K, V any] struct {
	Store  SessionStore
	Keys   serde.Serde[K]
	Values serde.Serde[V]
	topic  string
}

// NewTypedSessionStore wraps store with key and value serdes.
func NewTypedSessionStore[K, V any](store SessionStore, keys serde.Serde[K], values serde.Serde[V]) *TypedSessionStore[K, V] {
	return &TypedSessionStore[K, V]{Store: store, Keys: keys, Values: values, topic: store.Name()}
}

// Put writes key's session [start, end].
func (s *TypedSessionStore[K, V]) Put(key K, start, end time.Time, value V) error {
	kb, err := s.Keys.Serialize(s.topic, nil, key)
	if err != nil {
		return err
	}
	vb, err := encodeValue(s.Values, s.topic, value)
	if err != nil {
		return err
	}
	return s.Store.Put(kb, start.UnixMilli(), end.UnixMilli(), vb)
}

// Remove deletes key's session [start, end].
func (s *TypedSessionStore[K, V]) Remove(key K, start, end time.Time) error {
	kb, err := s.Keys.Serialize(s.topic, nil, key)
	if err != nil {
		return err
	}
	return s.Store.Remove(kb, start.UnixMilli(), end.UnixMilli())
}

// FetchSession returns key's session [start, end]; ok is false when there
// is none.
func (s *TypedSessionStore[K, V]) FetchSession(key K, start, end time.Time) (v V, ok bool, err error) {
	kb, err := s.Keys.Serialize(s.topic, nil, key)
	if err != nil {
		return v, false, err
	}
	raw, err := s.Store.FetchSession(kb, start.UnixMilli(), end.UnixMilli())
	if err != nil {
		return v, false, err
	}
	return decodeValue(s.Values, s.topic, raw)
}

// FindSessions iterates key's sessions that end at or after
// earliestSessionEnd and start at or before latestSessionStart: those
// that overlap [earliestSessionEnd, latestSessionStart].
func (s *TypedSessionStore[K, V]) FindSessions(key K, earliestSessionEnd, latestSessionStart time.Time) (*TypedSessionIterator[K, V], error) {
	kb, err := s.Keys.Serialize(s.topic, nil, key)
	if err != nil {
		return nil, err
	}
	return s.wrap(s.Store.FindSessions(kb, earliestSessionEnd.UnixMilli(), latestSessionStart.UnixMilli()))
}

// Fetch iterates every retained session of key.
func (s *TypedSessionStore[K, V]) Fetch(key K) (*TypedSessionIterator[K, V], error) {
	kb, err := s.Keys.Serialize(s.topic, nil, key)
	if err != nil {
		return nil, err
	}
	return s.wrap(s.Store.Fetch(kb))
}

func (s *TypedSessionStore[K, V]) wrap(it SessionIterator, err error) (*TypedSessionIterator[K, V], error) {
	if err != nil {
		return nil, err
	}
	return &TypedSessionIterator[K, V]{it: it, typedDecoder: typedDecoder[K, V]{keys: s.Keys, values: s.Values, topic: s.topic}}, nil
}

// TypedSessionIterator decodes a SessionIterator. Close it.
type TypedSessionIterator[K, V any] struct {
	typedDecoder[K, V]
	it SessionIterator
}

// Next moves to the next session; false at the end or on an error (Err).
func (t *TypedSessionIterator[K, V]) Next() bool { return t.next(t.it) }

// Key is the current session's key.
func (t *TypedSessionIterator[K, V]) Key() K { return t.key }

// Start is the timestamp of the current session's first record.
func (t *TypedSessionIterator[K, V]) Start() time.Time { return time.UnixMilli(t.it.Start()) }

// End is the timestamp of the current session's last record.
func (t *TypedSessionIterator[K, V]) End() time.Time { return time.UnixMilli(t.it.End()) }

// Value is the current session's value.
func (t *TypedSessionIterator[K, V]) Value() V { return t.value }

// Close releases the iterator.
func (t *TypedSessionIterator[K, V]) Close() error { return t.it.Close() }

// Err is the error that ended the iteration, if any.
func (t *TypedSessionIterator[K, V]) Err() error { return t.errOr(t.it) }
