package rocksdb

import (
	"fmt"
	"time"

	"github.com/kafki/kafki/state"
)

func init() {
	state.RegisterEngine(state.RocksDB, func(spec state.Spec, dir string) (state.Store, error) {
		return Open(spec, dir)
	})
}

// Open opens the RocksDB store a Spec describes (its kind, retention and
// duplicates) in dir, the store's own directory. Most programs let
// state.Open call it through the registration.
func Open(spec state.Spec, dir string, opts ...Option) (state.Store, error) {
	if dir == "" {
		return nil, fmt.Errorf("state: RocksDB store %q needs a directory", spec.Name)
	}
	retention := spec.Retention
	if retention == 0 {
		retention = state.DefaultRetention
	}
	switch spec.Kind {
	case state.KindKeyValue:
		return OpenKeyValueStore(spec.Name, dir, opts...)
	case state.KindWindow:
		return OpenWindowStore(spec.Name, dir, retention, 0, spec.RetainDuplicates, opts...)
	case state.KindSession:
		if spec.TimeOrdered {
			return OpenTimeOrderedSessionStore(spec.Name, dir, retention, 0, opts...)
		}
		return OpenSessionStore(spec.Name, dir, retention, 0, opts...)
	}
	return nil, fmt.Errorf("state: store %q: unknown kind %d", spec.Name, spec.Kind)
}

// OpenWindowStore opens a window store in dir (the store's own directory):
// one RocksDB database per time segment, so that retention drops whole
// segments. Arguments as state.NewInMemoryWindowStore.
func OpenWindowStore(name, dir string, retention, segmentInterval time.Duration, retainDuplicates bool, opts ...Option) (state.WindowStore, error) {
	set := segmentSettings(opts)
	return state.OpenSegmentedWindowStore(name, dir, retention, segmentInterval, retainDuplicates, func(name, dir string) (state.EngineStore, error) {
		return openDB(name, dir, set)
	})
}

// OpenSessionStore opens a session store in dir (the store's own
// directory), one RocksDB database per time segment of session ends.
func OpenSessionStore(name, dir string, retention, segmentInterval time.Duration, opts ...Option) (state.SessionStore, error) {
	set := segmentSettings(opts)
	return state.OpenSegmentedSessionStore(name, dir, retention, segmentInterval, func(name, dir string) (state.EngineStore, error) {
		return openDB(name, dir, set)
	})
}

// OpenTimeOrderedSessionStore is OpenSessionStore with an index by
// session end (state.TimeOrderedSessionStore), as Kafka Streams'
// time-ordered session store.
func OpenTimeOrderedSessionStore(name, dir string, retention, segmentInterval time.Duration, opts ...Option) (state.TimeOrderedSessionStore, error) {
	set := segmentSettings(opts)
	return state.OpenSegmentedTimeOrderedSessionStore(name, dir, retention, segmentInterval, func(name, dir string) (state.EngineStore, error) {
		return openDB(name, dir, set)
	})
}
