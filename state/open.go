package state

import (
	"fmt"
	"time"
)

// DefaultRetention is the retention of window and session stores whose Spec
// sets none: one day, Kafka Streams' default.
const DefaultRetention = 24 * time.Hour

// Open opens the engine store a Spec describes: its kind (key-value, window,
// session) on its engine, in dir, the store's own directory given by the
// caller (in-memory ignores dir). Persistent engines must be linked in
// (RegisterEngine); otherwise the error matches ErrEngineUnavailable.
//
// Open returns the bare engine store: logging (package changelog) and the
// record cache (Spec.Caching, see NewCachingKeyValueStore) are layered on it
// by the caller, cache outermost. Timestamped stores keep the timestamp in
// the value bytes (EncodeTimestamped), so they open the same engine stores.
func Open(spec Spec, dir string) (Store, error) {
	if spec.Name == "" {
		return nil, fmt.Errorf("state: spec has no name")
	}
	if spec.Retention == 0 {
		spec.Retention = DefaultRetention
	}
	if spec.Kind != KindKeyValue && spec.WindowSize > spec.Retention {
		return nil, fmt.Errorf("state: store %q: retention %v is shorter than the window size %v", spec.Name, spec.Retention, spec.WindowSize)
	}
	if spec.Kind == KindTimeOrderedBuffer {
		// Kafka Streams' suppression buffer is in memory whatever the
		// store supplier: it is rebuilt from its changelog.
		if spec.Engine != InMemory {
			return nil, fmt.Errorf("state: store %q: a suppression buffer is kept in memory, not in %s", spec.Name, spec.Engine)
		}
		return NewTimeOrderedBuffer(spec.Name), nil
	}
	if spec.Kind != KindKeyValue && spec.Kind != KindWindow && spec.Kind != KindSession {
		return nil, fmt.Errorf("state: store %q: unknown kind %d", spec.Name, spec.Kind)
	}
	if spec.Engine == InMemory {
		switch spec.Kind {
		case KindKeyValue:
			return NewInMemoryKeyValueStore(spec.Name), nil
		case KindWindow:
			return NewInMemoryWindowStore(spec.Name, spec.Retention, 0, spec.RetainDuplicates), nil
		default:
			if spec.TimeOrdered {
				return NewInMemoryTimeOrderedSessionStore(spec.Name, spec.Retention, 0), nil
			}
			return NewInMemorySessionStore(spec.Name, spec.Retention, 0), nil
		}
	}
	open, err := engineOpener(spec.Engine)
	if err != nil {
		return nil, fmt.Errorf("state: store %q: %w", spec.Name, err)
	}
	if dir == "" {
		return nil, fmt.Errorf("state: %s store %q needs a directory", spec.Engine, spec.Name)
	}
	return open(spec, dir)
}
