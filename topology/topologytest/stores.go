package topologytest

import (
	"fmt"

	"github.com/kafki/kafki/serde"
	"github.com/kafki/kafki/state"
)

// GetWindowStore returns a typed view of the named window store. The
// stores of windowed aggregations are timestamped (each window keeps the
// timestamp of its last update); this view reads their values without the
// timestamps, as Kafka Streams' test driver does, and refuses writes:
// GetTimestampedWindowStore reads and writes them whole.
func GetWindowStore[K, V any](d *Driver, name string, keySerde serde.Serde[K], valueSerde serde.Serde[V]) (*state.TypedWindowStore[K, V], error) {
	ws, err := storeOfKind[state.WindowStore](d, name, "window")
	if err != nil {
		return nil, err
	}
	return state.NewTypedWindowStore(ws, keySerde, plainValues(d, name, valueSerde)), nil
}

// GetTimestampedWindowStore returns a typed view of the named timestamped
// window store (Kafka Streams' TimestampedWindowStore) whose values carry
// the timestamp of the record that last updated the window.
func GetTimestampedWindowStore[K, V any](d *Driver, name string, keySerde serde.Serde[K], valueSerde serde.Serde[V]) (*state.TypedWindowStore[K, state.ValueAndTimestamp[V]], error) {
	ws, err := storeOfKind[state.WindowStore](d, name, "window")
	if err != nil {
		return nil, err
	}
	if !d.specs[name].Timestamped {
		return nil, fmt.Errorf("topologytest: store %q is not timestamped", name)
	}
	return state.NewTimestampedWindowStore(ws, keySerde, valueSerde), nil
}

// GetSessionStore returns a typed view of the named session store.
func GetSessionStore[K, V any](d *Driver, name string, keySerde serde.Serde[K], valueSerde serde.Serde[V]) (*state.TypedSessionStore[K, V], error) {
	ss, err := storeOfKind[state.SessionStore](d, name, "session")
	if err != nil {
		return nil, err
	}
	return state.NewTypedSessionStore(ss, keySerde, plainValues(d, name, valueSerde)), nil
}

func storeOfKind[S any](d *Driver, name, kind string) (S, error) {
	var zero S
	st, err := d.StateStore(name)
	if err != nil {
		return zero, err
	}
	s, ok := st.(S)
	if !ok {
		return zero, fmt.Errorf("topologytest: store %q is a %T, not a %s store", name, st, kind)
	}
	return s, nil
}

// plainValues is values for a store that keeps them plain, and a
// read-only serde that drops the timestamps for one that keeps them
// timestamped.
func plainValues[V any](d *Driver, name string, values serde.Serde[V]) serde.Serde[V] {
	if !d.specs[name].Timestamped {
		return values
	}
	return timestampDropping[V]{store: name, values: values}
}

type timestampDropping[V any] struct {
	store  string
	values serde.Serde[V]
}

func (s timestampDropping[V]) Serialize(string, []serde.Header, V) ([]byte, error) {
	return nil, fmt.Errorf("topologytest: store %q is timestamped: write through its timestamped view", s.store)
}

func (s timestampDropping[V]) Deserialize(topic string, h []serde.Header, data []byte) (V, error) {
	_, raw, err := state.DecodeTimestamped(data)
	if err != nil {
		var zero V
		return zero, fmt.Errorf("topologytest: store %q: %w", s.store, err)
	}
	return s.values.Deserialize(topic, h, raw)
}
