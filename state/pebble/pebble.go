package pebble

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/cockroachdb/pebble/v2"

	"github.com/kafki/kafki/state"
)

func init() {
	state.RegisterEngine(state.Pebble, func(spec state.Spec, dir string) (state.Store, error) {
		return Open(spec, dir)
	})
}

// Default settings: modest, so that many stores fit in one process.
const (
	DefaultBlockCacheSize = 50 << 20 // shared by every store of a Config
	DefaultMemTableSize   = 16 << 20 // per store (per segment for window and session stores)
)

// Config holds settings shared by many Pebble stores, above all one block
// cache, so that the memory of every store of a process is bounded
// together. Fields are read when a store opens.
type Config struct {
	// BlockCacheSize is the capacity of the shared block cache, in bytes.
	BlockCacheSize int64
	// MemTableSize bounds each memtable of a store (of each segment).
	MemTableSize uint64
	// WriteBackBytes bounds the write-back buffer in front of each
	// database (state.NewWriteBackStore); 0 uses the default, negative
	// turns it off.
	WriteBackBytes int
	// SetOptions, when set, is called last on every store's options: the
	// escape hatch for any Pebble option.
	SetOptions func(name string, opts *pebble.Options)

	mu    sync.Mutex
	cache *pebble.Cache
}

// NewConfig returns a config with the default settings.
func NewConfig() *Config {
	return &Config{BlockCacheSize: DefaultBlockCacheSize, MemTableSize: DefaultMemTableSize}
}

// DefaultConfig is shared by the stores opened without WithConfig.
var DefaultConfig = NewConfig()

func (c *Config) blockCache() *pebble.Cache {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cache == nil {
		size := c.BlockCacheSize
		if size <= 0 {
			size = DefaultBlockCacheSize
		}
		c.cache = pebble.NewCache(size)
	}
	return c.cache
}

// Option tunes one Pebble store.
type Option func(*settings)

type settings struct {
	cfg       *Config
	writeBack int
}

// WithConfig makes the store use cfg's settings and share its block cache.
func WithConfig(cfg *Config) Option {
	return func(s *settings) { s.cfg, s.writeBack = cfg, cfg.WriteBackBytes }
}

// WithWriteBack sets the bound of the store's write-back buffer (negative
// turns it off).
func WithWriteBack(maxBytes int) Option { return func(s *settings) { s.writeBack = maxBytes } }

func newSettings(opts []Option) *settings {
	s := &settings{cfg: DefaultConfig, writeBack: DefaultConfig.WriteBackBytes}
	for _, o := range opts {
		o(s)
	}
	return s
}

// quietLogger drops Pebble's informational messages: Kafki logs through
// slog and is quiet by default. Errors reach the caller as errors.
type quietLogger struct{}

func (quietLogger) Infof(string, ...any)  {}
func (quietLogger) Errorf(string, ...any) {}
func (quietLogger) Fatalf(format string, args ...any) {
	panic(fmt.Sprintf("pebble: "+format, args...))
}

func (s *settings) options(name string) *pebble.Options {
	o := &pebble.Options{
		Cache:        s.cfg.blockCache(),
		MemTableSize: s.cfg.MemTableSize,
		DisableWAL:   true,
		Logger:       quietLogger{},
	}
	if o.MemTableSize == 0 {
		o.MemTableSize = DefaultMemTableSize
	}
	if s.cfg.SetOptions != nil {
		s.cfg.SetOptions(name, o)
	}
	return o
}

// Open opens the Pebble store a Spec describes (its kind, retention and
// duplicates) in dir, the store's own directory.
func Open(spec state.Spec, dir string, opts ...Option) (state.Store, error) {
	if dir == "" {
		return nil, fmt.Errorf("state: Pebble store %q needs a directory", spec.Name)
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

// OpenKeyValueStore opens (creating when missing) a Pebble key-value store
// in dir, the store's own directory.
func OpenKeyValueStore(name, dir string, opts ...Option) (state.KeyValueStore, error) {
	return openDB(name, dir, newSettings(opts))
}

// OpenWindowStore opens a window store in dir: one Pebble database per
// time segment. Arguments as state.NewInMemoryWindowStore.
func OpenWindowStore(name, dir string, retention, segmentInterval time.Duration, retainDuplicates bool, opts ...Option) (state.WindowStore, error) {
	set := newSettings(opts)
	return state.OpenSegmentedWindowStore(name, dir, retention, segmentInterval, retainDuplicates, func(name, dir string) (state.EngineStore, error) {
		return openDB(name, dir, set)
	})
}

// OpenSessionStore opens a session store in dir: one Pebble database per
// time segment of session ends.
func OpenSessionStore(name, dir string, retention, segmentInterval time.Duration, opts ...Option) (state.SessionStore, error) {
	set := newSettings(opts)
	return state.OpenSegmentedSessionStore(name, dir, retention, segmentInterval, func(name, dir string) (state.EngineStore, error) {
		return openDB(name, dir, set)
	})
}

func openDB(name, dir string, set *settings) (state.EngineStore, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("state: store %q: %w", name, err)
	}
	db, err := pebble.Open(dir, set.options(name))
	if err != nil {
		return nil, fmt.Errorf("state: open Pebble store %q in %s: %w", name, dir, err)
	}
	if err := ensureIdentity(dir); err != nil {
		db.Close()
		return nil, fmt.Errorf("state: Pebble store %q: %w", name, err)
	}
	s := &pebbleKV{name: name, dir: dir, db: db, open: map[*pebbleIter]struct{}{}}
	if set.writeBack < 0 {
		return s, nil
	}
	return state.NewWriteBackStore(s, set.writeBack), nil
}

// IdentityFileName is the file in which the engine records a unique id of
// the database, as RocksDB does in a file of the same name: Pebble has no
// such id, and a checkpoint must only be trusted for the database it was
// written with (package changelog reads it). A database whose files were
// removed is created anew by Pebble and gets a new id.
const IdentityFileName = "IDENTITY"

func ensureIdentity(dir string) error {
	path := filepath.Join(dir, IdentityFileName)
	if _, err := os.Stat(path); err == nil || !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	id := make([]byte, 16)
	if _, err := rand.Read(id); err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(hex.EncodeToString(id)+"\n"), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// OpenTimeOrderedSessionStore is OpenSessionStore with an index by
// session end (state.TimeOrderedSessionStore), as Kafka Streams'
// time-ordered session store.
func OpenTimeOrderedSessionStore(name, dir string, retention, segmentInterval time.Duration, opts ...Option) (state.TimeOrderedSessionStore, error) {
	set := newSettings(opts)
	return state.OpenSegmentedTimeOrderedSessionStore(name, dir, retention, segmentInterval, func(name, dir string) (state.EngineStore, error) {
		return openDB(name, dir, set)
	})
}
