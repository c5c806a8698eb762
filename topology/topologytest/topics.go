package topologytest

import (
	"fmt"
	"time"

	"github.com/kafki/kafki/internal/kafkatime"
	"github.com/kafki/kafki/serde"
	"github.com/kafki/kafki/state"
	"github.com/kafki/kafki/topology"
)

// KeyValue is a typed key and value.
type KeyValue[K, V any] struct {
	Key   K
	Value V
}

// InputTopic pipes typed records into one topic.
type InputTopic[K, V any] struct {
	d          *Driver
	topic      string
	keySerde   serde.Serde[K]
	valueSerde serde.Serde[V]
}

// CreateInputTopic returns a typed handle on topic, a source topic of the
// topology (or the topic of a GlobalKTable).
func CreateInputTopic[K, V any](d *Driver, topic string, keySerde serde.Serde[K], valueSerde serde.Serde[V]) *InputTopic[K, V] {
	return &InputTopic[K, V]{d: d, topic: topic, keySerde: keySerde, valueSerde: valueSerde}
}

// Pipe sends key and value with timestamp ts (Kafka keeps milliseconds;
// time.UnixMilli makes one from epoch milliseconds).
func (in *InputTopic[K, V]) Pipe(key K, value V, ts time.Time) error {
	return in.PipeRecord(topology.Record[K, V]{Key: key, Value: value, Timestamp: ts})
}

// PipeTombstone sends key with a null value.
func (in *InputTopic[K, V]) PipeTombstone(key K, ts time.Time) error {
	return in.PipeRecord(topology.Record[K, V]{Key: key, Timestamp: ts, NullValue: true})
}

// PipeRecord sends rec; its NullKey and NullValue flags become Kafka nulls.
// A record with a zero Timestamp gets the driver's wall-clock time, as a
// producer stamps a record it is given without one.
func (in *InputTopic[K, V]) PipeRecord(rec topology.Record[K, V]) error {
	ts := rec.Timestamp
	if ts.IsZero() {
		ts = in.d.now
	}
	raw := topology.RawRecord{Topic: in.topic, Timestamp: kafkatime.Millis(ts), Headers: rec.Headers}
	var err error
	if !rec.NullKey {
		if raw.Key, err = in.keySerde.Serialize(in.topic, rec.Headers, rec.Key); err != nil {
			return fmt.Errorf("topologytest: serialize key for %s: %w", in.topic, err)
		}
	}
	if !rec.NullValue {
		if raw.Value, err = in.valueSerde.Serialize(in.topic, rec.Headers, rec.Value); err != nil {
			return fmt.Errorf("topologytest: serialize value for %s: %w", in.topic, err)
		}
	}
	return in.d.PipeRaw(raw)
}

// OutputTopic reads typed records from one topic the topology writes.
type OutputTopic[K, V any] struct {
	d          *Driver
	topic      string
	keySerde   serde.Serde[K]
	valueSerde serde.Serde[V]
}

// CreateOutputTopic returns a typed handle on topic.
func CreateOutputTopic[K, V any](d *Driver, topic string, keySerde serde.Serde[K], valueSerde serde.Serde[V]) *OutputTopic[K, V] {
	return &OutputTopic[K, V]{d: d, topic: topic, keySerde: keySerde, valueSerde: valueSerde}
}

// ReadRecords returns and consumes every record written so far, with Kafka
// nulls as NullKey/NullValue.
func (o *OutputTopic[K, V]) ReadRecords() ([]topology.Record[K, V], error) {
	raws := o.d.ReadRaw(o.topic)
	out := make([]topology.Record[K, V], 0, len(raws))
	for _, r := range raws {
		rec := topology.Record[K, V]{Timestamp: kafkatime.Time(r.Timestamp), Headers: r.Headers, NullKey: r.Key == nil, NullValue: r.Value == nil}
		var err error
		if r.Key != nil {
			if rec.Key, err = o.keySerde.Deserialize(o.topic, r.Headers, r.Key); err != nil {
				return nil, fmt.Errorf("topologytest: deserialize key of %s@%d: %w", o.topic, r.Offset, err)
			}
		}
		if r.Value != nil {
			if rec.Value, err = o.valueSerde.Deserialize(o.topic, r.Headers, r.Value); err != nil {
				return nil, fmt.Errorf("topologytest: deserialize value of %s@%d: %w", o.topic, r.Offset, err)
			}
		}
		out = append(out, rec)
	}
	return out, nil
}

// ReadKeyValues returns and consumes every record written so far as key
// and value pairs (a null becomes the zero value; use ReadRecords to tell).
func (o *OutputTopic[K, V]) ReadKeyValues() ([]KeyValue[K, V], error) {
	recs, err := o.ReadRecords()
	if err != nil {
		return nil, err
	}
	out := make([]KeyValue[K, V], len(recs))
	for i, r := range recs {
		out[i] = KeyValue[K, V]{r.Key, r.Value}
	}
	return out, nil
}

// IsEmpty reports whether no unread records are waiting.
func (o *OutputTopic[K, V]) IsEmpty() bool { return len(o.d.outputs[o.topic]) == 0 }

// KeyValueStore is a typed read view of a key-value store.
type KeyValueStore[K, V any] struct {
	store      state.KeyValueStore
	keySerde   serde.Serde[K]
	valueSerde serde.Serde[V]
	// timestamped: the store keeps each value's timestamp, which this
	// view leaves out (as Kafka Streams' test driver does for a
	// timestamped store read as a plain one).
	timestamped bool
}

// GetKeyValueStore returns a typed view of the named key-value store. A
// timestamped store (a KTable's) is read without its timestamps; see
// GetTimestampedKeyValueStore.
func GetKeyValueStore[K, V any](d *Driver, name string, keySerde serde.Serde[K], valueSerde serde.Serde[V]) (*KeyValueStore[K, V], error) {
	kv, err := storeOfKind[state.KeyValueStore](d, name, "key-value")
	if err != nil {
		return nil, err
	}
	return &KeyValueStore[K, V]{store: kv, keySerde: keySerde, valueSerde: valueSerde, timestamped: d.specs[name].Timestamped}, nil
}

// GetTimestampedKeyValueStore returns a typed view of the named
// timestamped key-value store (a KTable's: Kafka Streams'
// TimestampedKeyValueStore) whose values carry the timestamp of the record
// that wrote them.
func GetTimestampedKeyValueStore[K, V any](d *Driver, name string, keySerde serde.Serde[K], valueSerde serde.Serde[V]) (*KeyValueStore[K, state.ValueAndTimestamp[V]], error) {
	kv, err := storeOfKind[state.KeyValueStore](d, name, "key-value")
	if err != nil {
		return nil, err
	}
	if !d.specs[name].Timestamped {
		return nil, fmt.Errorf("topologytest: store %q is not timestamped", name)
	}
	return &KeyValueStore[K, state.ValueAndTimestamp[V]]{store: kv, keySerde: keySerde, valueSerde: state.TimestampedSerde(valueSerde)}, nil
}

func (s *KeyValueStore[K, V]) decode(vb []byte) (V, error) {
	if s.timestamped {
		_, raw, err := state.DecodeTimestamped(vb)
		if err != nil {
			var zero V
			return zero, fmt.Errorf("topologytest: store %s: %w", s.store.Name(), err)
		}
		vb = raw
	}
	return s.valueSerde.Deserialize(s.store.Name(), nil, vb)
}

// Get returns the value of key; ok is false when there is none.
func (s *KeyValueStore[K, V]) Get(key K) (value V, ok bool, err error) {
	kb, err := s.keySerde.Serialize(s.store.Name(), nil, key)
	if err != nil {
		return value, false, err
	}
	vb, err := s.store.Get(kb)
	if err != nil || vb == nil {
		return value, false, err
	}
	value, err = s.decode(vb)
	return value, err == nil, err
}

// All returns every entry in key-byte order.
func (s *KeyValueStore[K, V]) All() ([]KeyValue[K, V], error) {
	it, err := s.store.All()
	if err != nil {
		return nil, err
	}
	defer it.Close()
	var out []KeyValue[K, V]
	for it.Next() {
		k, err := s.keySerde.Deserialize(s.store.Name(), nil, it.Key())
		if err != nil {
			return nil, err
		}
		v, err := s.decode(it.Value())
		if err != nil {
			return nil, err
		}
		out = append(out, KeyValue[K, V]{k, v})
	}
	return out, it.Err()
}
