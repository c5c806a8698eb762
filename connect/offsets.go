package connect

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
)

// OffsetStore keeps source offsets per connector and source partition.
type OffsetStore interface {
	// Get returns the stored offset, or nil.
	Get(connector string, partition map[string]any) (map[string]any, error)
	// Put stores offsets durably before it returns.
	Put(connector string, entries []OffsetEntry) error
}

// OffsetEntry is one source partition's offset.
type OffsetEntry struct {
	Partition map[string]any
	Offset    map[string]any
}

// offsetKey is how Kafka Connect keys offsets: a JSON array of the
// connector name and the source partition. encoding/json sorts map keys,
// so equal partitions give equal keys.
func offsetKey(connector string, partition map[string]any) ([]byte, error) {
	return json.Marshal([]any{connector, partition})
}

// FileOffsetStore keeps offsets in a local JSON file, rewritten atomically
// (temporary file, fsync, rename) on every Put, as connect-standalone's
// offset.storage.file.filename.
type FileOffsetStore struct {
	path string
	mu   sync.Mutex
	data map[string]json.RawMessage
}

type offsetFileEntry struct {
	Key   json.RawMessage `json:"key"`
	Value json.RawMessage `json:"value"`
}

// OpenFileOffsetStore loads the file at path, or starts empty when it does
// not exist yet.
func OpenFileOffsetStore(path string) (*FileOffsetStore, error) {
	s := &FileOffsetStore{path: path, data: map[string]json.RawMessage{}}
	raw, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return s, nil
	}
	if err != nil {
		return nil, fmt.Errorf("offset file: %w", err)
	}
	var entries []offsetFileEntry
	if err := json.Unmarshal(raw, &entries); err != nil {
		return nil, fmt.Errorf("offset file %s is damaged: %w", path, err)
	}
	for _, e := range entries {
		s.data[string(e.Key)] = e.Value
	}
	return s, nil
}

// Get implements OffsetStore.
func (s *FileOffsetStore) Get(connector string, partition map[string]any) (map[string]any, error) {
	k, err := offsetKey(connector, partition)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	raw := s.data[string(k)]
	s.mu.Unlock()
	if raw == nil {
		return nil, nil
	}
	return decodeOffset(raw)
}

func decodeOffset(raw []byte) (map[string]any, error) {
	var out map[string]any
	if err := json.Unmarshal(raw, &out); err != nil {
		return nil, fmt.Errorf("stored offset: %w", err)
	}
	return out, nil
}

// Put implements OffsetStore.
func (s *FileOffsetStore) Put(connector string, entries []OffsetEntry) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, e := range entries {
		k, err := offsetKey(connector, e.Partition)
		if err != nil {
			return err
		}
		v, err := json.Marshal(e.Offset)
		if err != nil {
			return fmt.Errorf("offset of %s: %w", k, err)
		}
		s.data[string(k)] = v
	}
	all := make([]offsetFileEntry, 0, len(s.data))
	for k, v := range s.data {
		all = append(all, offsetFileEntry{Key: json.RawMessage(k), Value: v})
	}
	raw, err := json.Marshal(all)
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(s.path), ".offsets-*")
	if err != nil {
		return fmt.Errorf("offset file: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(raw); err != nil {
		tmp.Close()
		return fmt.Errorf("offset file: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("offset file: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("offset file: %w", err)
	}
	if err := os.Rename(tmp.Name(), s.path); err != nil {
		return fmt.Errorf("offset file: %w", err)
	}
	return nil
}

// connectorOffsets is the OffsetReader a task of one connector sees.
type connectorOffsets struct {
	name  string
	store OffsetStore
}

func (c connectorOffsets) Offset(p map[string]any) (map[string]any, error) {
	return c.store.Get(c.name, p)
}

type sourceContext struct {
	r   OffsetReader
	log *slog.Logger
}

func (s sourceContext) OffsetReader() OffsetReader { return s.r }
func (s sourceContext) Logger() *slog.Logger       { return s.log }
