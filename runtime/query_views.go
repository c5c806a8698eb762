package runtime

import (
	"bytes"
	"cmp"
	"fmt"
	"time"

	"github.com/kafki/kafki/serde"
	"github.com/kafki/kafki/state"
)

// decoder turns stored value bytes into V. A view of a timestamped store
// that asked for plain values drops the timestamps, as Kafka Streams lets
// a timestamped store be queried as a plain one.
type decoder[V any] func(raw []byte) (V, error)

func valueDecoder[V any](t *storeTarget, values serde.Serde[V], timestamped bool) (decoder[V], error) {
	switch {
	case timestamped && !t.spec.Timestamped:
		return nil, fmt.Errorf("%w: store %q keeps no timestamps", ErrUnknownStateStore, t.name)
	case t.spec.Timestamped && !timestamped:
		return func(raw []byte) (V, error) {
			_, b, err := state.DecodeTimestamped(raw)
			if err != nil {
				var zero V
				return zero, err
			}
			return values.Deserialize(t.name, nil, b)
		}, nil
	}
	return func(raw []byte) (V, error) { return values.Deserialize(t.name, nil, raw) }, nil
}

func keyBytes[K any](t *storeTarget, keys serde.Serde[K], k K) ([]byte, error) {
	b, err := keys.Serialize(t.name, nil, k)
	if err != nil {
		return nil, fmt.Errorf("runtime: store %q: serialize key: %w", t.name, err)
	}
	return b, nil
}

// view is what the key-value, window and session views share: the store
// they read and how its keys and values decode.
type view[K, V any] struct {
	t      *storeTarget
	keys   serde.Serde[K]
	decode decoder[V]
}

// openView opens a view of the store name of kind. timestamped asks for
// values with their timestamps (the store must keep them); otherwise a
// timestamped store reads as plain values.
func openView[K, V any](a *App, name string, kind state.Kind, keys serde.Serde[K], values serde.Serde[V], opts []QueryOpt) (view[K, V], error) {
	t, err := a.target(name, kind, opts)
	if err != nil {
		return view[K, V]{}, err
	}
	d, err := valueDecoder(t, values, false)
	if err != nil {
		return view[K, V]{}, err
	}
	return view[K, V]{t: t, keys: keys, decode: d}, nil
}

// openTimestampedView opens a view of a timestamped store whose values
// carry the timestamp of the record that wrote them.
func openTimestampedView[K, V any](a *App, name string, kind state.Kind, keys serde.Serde[K], values serde.Serde[V], opts []QueryOpt) (view[K, state.ValueAndTimestamp[V]], error) {
	t, err := a.target(name, kind, opts)
	if err != nil {
		return view[K, state.ValueAndTimestamp[V]]{}, err
	}
	if !t.spec.Timestamped {
		return view[K, state.ValueAndTimestamp[V]]{}, storeErr(name, -1, fmt.Errorf("%w: it keeps no timestamps", ErrUnknownStateStore))
	}
	ts := state.TimestampedSerde(values)
	return view[K, state.ValueAndTimestamp[V]]{t: t, keys: keys,
		decode: func(raw []byte) (state.ValueAndTimestamp[V], error) { return ts.Deserialize(name, nil, raw) }}, nil
}

// get reads one value of key from the partition that holds it; read
// returns nil when there is none.
func (v view[K, V]) get(key K, read func(s state.Store, kb []byte) ([]byte, error)) (val V, ok bool, err error) {
	kb, err := keyBytes(v.t, v.keys, key)
	if err != nil {
		return val, false, err
	}
	err = v.t.readKey(kb, func(s state.Store) error {
		raw, err := read(s, kb)
		if err != nil || raw == nil {
			return err
		}
		val, err = v.decode(raw)
		ok = err == nil
		return err
	})
	return val, ok, err
}

// entry decodes a stored key and value.
func (v view[K, V]) entry(kb, vb []byte) (K, V, error) {
	var val V
	k, err := v.keys.Deserialize(v.t.name, nil, kb)
	if err != nil {
		return k, val, fmt.Errorf("runtime: store %q: deserialize key: %w", v.t.name, err)
	}
	if val, err = v.decode(vb); err != nil {
		return k, val, fmt.Errorf("runtime: store %q: deserialize value: %w", v.t.name, err)
	}
	return k, val, nil
}

// value decodes a stored value.
func (v view[K, V]) value(vb []byte) (V, error) {
	val, err := v.decode(vb)
	if err != nil {
		return val, fmt.Errorf("runtime: store %q: deserialize value: %w", v.t.name, err)
	}
	return val, nil
}

// mergeAll merges one iterator per hosted partition, opened by open, in
// the order of compare, and calls fn with each entry's decoded key and
// value until it returns false.
func mergeAll[K, V any, I interface {
	cursor
	Key() []byte
	Value() []byte
}](v view[K, V], open func(state.Store) (I, error), compare func(a, b I) int, fn func(it I, k K, val V) bool) error {
	return v.t.readAll(func(stores []state.Store) error {
		its := make([]I, 0, len(stores))
		for _, s := range stores {
			it, err := open(s)
			if err != nil {
				for _, o := range its {
					o.Close()
				}
				return err
			}
			its = append(its, it)
		}
		var derr error
		err := merge(its, compare, func(it I) bool {
			k, val, err := v.entry(it.Key(), it.Value())
			if err != nil {
				derr = err
				return false
			}
			return fn(it, k, val)
		})
		if err != nil {
			return err
		}
		return derr
	})
}

// KeyValueView is a read-only view of a key-value store over the tasks of
// this instance (Kafka Streams' ReadOnlyKeyValueStore). It is safe for
// concurrent use.
type KeyValueView[K, V any] struct{ view[K, V] }

// KeyValueStoreView returns a view of the key-value store name, with the
// serdes the topology wrote it with. A timestamped store (every KTable's)
// reads as plain values; TimestampedKeyValueStoreView keeps the
// timestamps.
func KeyValueStoreView[K, V any](a *App, name string, keys serde.Serde[K], values serde.Serde[V], opts ...QueryOpt) (*KeyValueView[K, V], error) {
	v, err := openView(a, name, state.KindKeyValue, keys, values, opts)
	if err != nil {
		return nil, err
	}
	return &KeyValueView[K, V]{v}, nil
}

// TimestampedKeyValueStoreView returns a view of a timestamped key-value
// store whose values carry the timestamp of the record that wrote them.
func TimestampedKeyValueStoreView[K, V any](a *App, name string, keys serde.Serde[K], values serde.Serde[V], opts ...QueryOpt) (*KeyValueView[K, state.ValueAndTimestamp[V]], error) {
	v, err := openTimestampedView(a, name, state.KindKeyValue, keys, values, opts)
	if err != nil {
		return nil, err
	}
	return &KeyValueView[K, state.ValueAndTimestamp[V]]{v}, nil
}

// Get returns key's value; ok is false when the key has none.
func (v *KeyValueView[K, V]) Get(key K) (val V, ok bool, err error) {
	return v.get(key, func(s state.Store, kb []byte) ([]byte, error) { return s.(state.KeyValueStore).Get(kb) })
}

// Range calls fn with every entry whose key is in [from, to] (nil bounds
// are open), in key order (byte order of the serialized keys) over all
// partitions hosted here, until fn returns false.
func (v *KeyValueView[K, V]) Range(from, to *K, fn func(K, V) bool) error {
	return v.scan(from, to, false, fn)
}

// ReverseRange is Range in descending key order.
func (v *KeyValueView[K, V]) ReverseRange(from, to *K, fn func(K, V) bool) error {
	return v.scan(from, to, true, fn)
}

// All calls fn with every entry, in key order.
func (v *KeyValueView[K, V]) All(fn func(K, V) bool) error { return v.scan(nil, nil, false, fn) }

// ReverseAll calls fn with every entry, in descending key order.
func (v *KeyValueView[K, V]) ReverseAll(fn func(K, V) bool) error { return v.scan(nil, nil, true, fn) }

func (v *KeyValueView[K, V]) scan(from, to *K, reverse bool, fn func(K, V) bool) error {
	var fb, tb []byte
	var err error
	if from != nil {
		if fb, err = keyBytes(v.t, v.keys, *from); err != nil {
			return err
		}
	}
	if to != nil {
		if tb, err = keyBytes(v.t, v.keys, *to); err != nil {
			return err
		}
	}
	return mergeAll(v.view, func(s state.Store) (state.KeyValueIterator, error) {
		if reverse {
			return s.(state.KeyValueStore).ReverseRange(fb, tb)
		}
		return s.(state.KeyValueStore).Range(fb, tb)
	}, compareKV(reverse), func(_ state.KeyValueIterator, k K, val V) bool { return fn(k, val) })
}

// ApproximateNumEntries sums the estimated entry counts of the partitions
// hosted here (exact for in-memory stores).
func (v *KeyValueView[K, V]) ApproximateNumEntries() (int64, error) {
	var n int64
	err := v.t.readAll(func(stores []state.Store) error {
		for _, s := range stores {
			c, err := s.(state.KeyValueStore).ApproximateNumEntries()
			if err != nil {
				return err
			}
			n += c
		}
		return nil
	})
	return n, err
}

// WindowView is a read-only view of a window store (Kafka Streams'
// ReadOnlyWindowStore). A window is named by its start; times are whole
// milliseconds, as the store keeps them (finer parts of the bounds given
// are dropped). Safe for concurrent use.
type WindowView[K, V any] struct{ view[K, V] }

// WindowStoreView returns a view of the window store name. Windowed
// aggregations keep timestamped values; this view drops the timestamps,
// TimestampedWindowStoreView keeps them.
func WindowStoreView[K, V any](a *App, name string, keys serde.Serde[K], values serde.Serde[V], opts ...QueryOpt) (*WindowView[K, V], error) {
	v, err := openView(a, name, state.KindWindow, keys, values, opts)
	if err != nil {
		return nil, err
	}
	return &WindowView[K, V]{v}, nil
}

// TimestampedWindowStoreView returns a view of a timestamped window store
// with the timestamps.
func TimestampedWindowStoreView[K, V any](a *App, name string, keys serde.Serde[K], values serde.Serde[V], opts ...QueryOpt) (*WindowView[K, state.ValueAndTimestamp[V]], error) {
	v, err := openTimestampedView(a, name, state.KindWindow, keys, values, opts)
	if err != nil {
		return nil, err
	}
	return &WindowView[K, state.ValueAndTimestamp[V]]{v}, nil
}

// Fetch returns the value of key's window that starts at windowStart.
func (v *WindowView[K, V]) Fetch(key K, windowStart time.Time) (val V, ok bool, err error) {
	return v.get(key, func(s state.Store, kb []byte) ([]byte, error) {
		return s.(state.WindowStore).Fetch(kb, windowStart.UnixMilli())
	})
}

// FetchRange calls fn with key's windows that start in [timeFrom, timeTo],
// by start time, until fn returns false.
func (v *WindowView[K, V]) FetchRange(key K, timeFrom, timeTo time.Time, fn func(windowStart time.Time, val V) bool) error {
	return v.fetchKey(key, timeFrom.UnixMilli(), timeTo.UnixMilli(), false, fn)
}

// BackwardFetchRange is FetchRange by descending start time.
func (v *WindowView[K, V]) BackwardFetchRange(key K, timeFrom, timeTo time.Time, fn func(windowStart time.Time, val V) bool) error {
	return v.fetchKey(key, timeFrom.UnixMilli(), timeTo.UnixMilli(), true, fn)
}

func (v *WindowView[K, V]) fetchKey(key K, timeFrom, timeTo int64, backward bool, fn func(time.Time, V) bool) error {
	kb, err := keyBytes(v.t, v.keys, key)
	if err != nil {
		return err
	}
	return v.t.readKey(kb, func(s state.Store) error {
		ws := s.(state.WindowStore)
		var it state.WindowIterator
		if backward {
			it, err = ws.BackwardFetchRange(kb, timeFrom, timeTo)
		} else {
			it, err = ws.FetchRange(kb, timeFrom, timeTo)
		}
		if err != nil {
			return err
		}
		defer it.Close()
		for it.Next() {
			val, err := v.value(it.Value())
			if err != nil {
				return err
			}
			if !fn(time.UnixMilli(it.WindowStart()), val) {
				return nil
			}
		}
		return it.Err()
	})
}

// FetchAll calls fn with every window that starts in [timeFrom, timeTo]
// over the partitions hosted here, ordered by start time then key.
func (v *WindowView[K, V]) FetchAll(timeFrom, timeTo time.Time, fn func(key K, windowStart time.Time, val V) bool) error {
	from, to := timeFrom.UnixMilli(), timeTo.UnixMilli()
	byTime := func(a, b state.WindowIterator) int {
		if c := cmp.Compare(a.WindowStart(), b.WindowStart()); c != 0 {
			return c
		}
		return bytes.Compare(a.Key(), b.Key())
	}
	return mergeAll(v.view, func(s state.Store) (state.WindowIterator, error) {
		return s.(state.WindowStore).FetchAll(from, to)
	}, byTime, func(it state.WindowIterator, k K, val V) bool { return fn(k, time.UnixMilli(it.WindowStart()), val) })
}

// SessionView is a read-only view of a session store (Kafka Streams'
// ReadOnlySessionStore). A session's start and end are the timestamps of
// its first and last record, whole milliseconds. Safe for concurrent use.
type SessionView[K, V any] struct{ view[K, V] }

// SessionStoreView returns a view of the session store name.
func SessionStoreView[K, V any](a *App, name string, keys serde.Serde[K], values serde.Serde[V], opts ...QueryOpt) (*SessionView[K, V], error) {
	v, err := openView(a, name, state.KindSession, keys, values, opts)
	if err != nil {
		return nil, err
	}
	return &SessionView[K, V]{v}, nil
}

// Fetch calls fn with every retained session of key, ordered by end time,
// until fn returns false.
func (v *SessionView[K, V]) Fetch(key K, fn func(start, end time.Time, val V) bool) error {
	kb, err := keyBytes(v.t, v.keys, key)
	if err != nil {
		return err
	}
	return v.t.readKey(kb, func(s state.Store) error {
		it, err := s.(state.SessionStore).Fetch(kb)
		if err != nil {
			return err
		}
		defer it.Close()
		for it.Next() {
			val, err := v.value(it.Value())
			if err != nil {
				return err
			}
			if !fn(time.UnixMilli(it.Start()), time.UnixMilli(it.End()), val) {
				return nil
			}
		}
		return it.Err()
	})
}

// FetchSession returns the value of key's session [start, end].
func (v *SessionView[K, V]) FetchSession(key K, start, end time.Time) (val V, ok bool, err error) {
	return v.get(key, func(s state.Store, kb []byte) ([]byte, error) {
		return s.(state.SessionStore).FetchSession(kb, start.UnixMilli(), end.UnixMilli())
	})
}
