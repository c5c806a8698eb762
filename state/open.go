package state

import (
	"fmt"
	"time"
)

// DefaultRetention is the retention of window and session stores whose Spec
// sets none: one day, Kafka Streams' default.
const DefaultRetention = 24 * time.Hour

// Open opens the engine store a Spec describes: its kind (key-value, window,
// session) on its engine (RocksDB in dir, the store's own directory given by
// the caller; in-memory ignores dir). opts tune RocksDB stores.
//
// Open returns the bare engine store: logging (package changelog) and the
// record cache (Spec.Caching, see NewCachingKeyValueStore) are layered on it
// by the caller, cache outermost. Timestamped stores keep the timestamp in
// the value bytes (EncodeTimestamped), so they open the same engine stores.
func Open(spec Spec, dir string, opts ...RocksDBOption) (Store, error) {
	if spec.Name == "" {
		return nil, fmt.Errorf("state: spec has no name")
	}
	retention := spec.Retention
	if retention == 0 {
		retention = DefaultRetention
	}
	if spec.Kind != KindKeyValue && spec.WindowSize > retention {
		return nil, fmt.Errorf("state: store %q: retention %v is shorter than the window size %v", spec.Name, retention, spec.WindowSize)
	}
	switch spec.Engine {
	case InMemory:
		switch spec.Kind {
		case KindKeyValue:
			return NewInMemoryKeyValueStore(spec.Name), nil
		case KindWindow:
			return NewInMemoryWindowStore(spec.Name, retention, 0, spec.RetainDuplicates), nil
		case KindSession:
			return NewInMemorySessionStore(spec.Name, retention, 0), nil
		}
	case RocksDB:
		if dir == "" {
			return nil, fmt.Errorf("state: RocksDB store %q needs a directory", spec.Name)
		}
		switch spec.Kind {
		case KindKeyValue:
			return OpenRocksDBKeyValueStore(spec.Name, dir, opts...)
		case KindWindow:
			return OpenRocksDBWindowStore(spec.Name, dir, retention, 0, spec.RetainDuplicates, opts...)
		case KindSession:
			return OpenRocksDBSessionStore(spec.Name, dir, retention, 0, opts...)
		}
	default:
		return nil, fmt.Errorf("state: store %q: unknown engine %d", spec.Name, spec.Engine)
	}
	return nil, fmt.Errorf("state: store %q: unknown kind %d", spec.Name, spec.Kind)
}
