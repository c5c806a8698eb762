package stream

import (
	"fmt"

	"github.com/kafki/kafki/serde"
	"github.com/kafki/kafki/state"
	"github.com/kafki/kafki/topology"
)

// Windowed and session aggregations forward from their store's record
// cache when it has one (state.BuildStore puts a CachingWindowStore or
// CachingSessionStore in front when the spec asks for caching), as Kafka
// Streams' timestamped and session cache flush listeners do: the latest
// aggregate of each window, once per flush (commit) or eviction, with the
// value the store below held before as the old value. Without a cache the
// aggregations forward every update themselves.

// windowFlushSetter is what a caching window store offers.
type windowFlushSetter interface {
	SetWindowFlushListener(state.WindowFlushListener)
}

// sessionFlushSetter is what a caching session store offers.
type sessionFlushSetter interface {
	SetSessionFlushListener(state.SessionFlushListener)
}

// forwardWindowFlushes makes a caching window store of timestamped
// aggregates forward its flushes, windows of size ms, and reports whether
// the store caches. A forwarded update carries the timestamp kept with its
// new value (Kafka Streams' TimestampedCacheFlushListener) and the headers
// of the record that last wrote it.
func forwardWindowFlushes[K, VA any](ctx topology.ProcessorContext[Windowed[K], Change[VA]], ws state.WindowStore,
	store string, ks serde.Serde[K], vs serde.Serde[VA], size int64) bool {
	c, ok := ws.(windowFlushSetter)
	if !ok {
		return false
	}
	c.SetWindowFlushListener(func(kb []byte, start int64, newValue, oldValue []byte, ts int64) error {
		rec := topology.Record[Windowed[K], Change[VA]]{Key: Windowed[K]{Window: Window{start: start, end: start + size}},
			Timestamp: msTime(ts), Headers: flushHeaders(ctx)}
		var err error
		if rec.Key.Key, err = ks.Deserialize(store, nil, kb); err != nil {
			return fmt.Errorf("deserialize key of store %s: %w", store, err)
		}
		if newValue != nil {
			var vb []byte
			if ts, vb, err = state.DecodeTimestamped(newValue); err != nil {
				return fmt.Errorf("stream: store %s: %w", store, err)
			}
			rec.Timestamp = msTime(ts)
			if rec.Value.New, err = vs.Deserialize(store, nil, vb); err != nil {
				return fmt.Errorf("deserialize aggregate of store %s: %w", store, err)
			}
			rec.Value.HasNew = true
		}
		if oldValue != nil {
			_, vb, err := state.DecodeTimestamped(oldValue)
			if err != nil {
				return fmt.Errorf("stream: store %s: %w", store, err)
			}
			if rec.Value.Old, err = vs.Deserialize(store, nil, vb); err != nil {
				return fmt.Errorf("deserialize aggregate of store %s: %w", store, err)
			}
			rec.Value.HasOld = true
		}
		return ctx.Forward(rec)
	})
	return true
}

// forwardSessionFlushes makes a caching session store forward its
// flushes and reports whether the store caches. A forwarded update, or
// the deletion of a merged-away session, carries the session's end as its
// timestamp (Kafka Streams' SessionCacheFlushListener). A session created
// and merged away between two flushes never reached the store below and
// is not forwarded at all.
func forwardSessionFlushes[K, VA any](ctx topology.ProcessorContext[Windowed[K], Change[VA]], ss state.SessionStore,
	store string, ks serde.Serde[K], vs serde.Serde[VA]) bool {
	c, ok := ss.(sessionFlushSetter)
	if !ok {
		return false
	}
	c.SetSessionFlushListener(func(kb []byte, start, end int64, newValue, oldValue []byte, _ int64) error {
		rec := topology.Record[Windowed[K], Change[VA]]{Key: Windowed[K]{Window: Window{start: start, end: end}},
			Timestamp: msTime(end), Headers: flushHeaders(ctx)}
		var err error
		if rec.Key.Key, err = ks.Deserialize(store, nil, kb); err != nil {
			return fmt.Errorf("deserialize key of store %s: %w", store, err)
		}
		if newValue != nil {
			if rec.Value.New, err = vs.Deserialize(store, nil, newValue); err != nil {
				return fmt.Errorf("deserialize aggregate of store %s: %w", store, err)
			}
			rec.Value.HasNew = true
		}
		if oldValue != nil {
			if rec.Value.Old, err = vs.Deserialize(store, nil, oldValue); err != nil {
				return fmt.Errorf("deserialize aggregate of store %s: %w", store, err)
			}
			rec.Value.HasOld = true
		}
		return ctx.Forward(rec)
	})
	return true
}
