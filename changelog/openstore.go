package changelog

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/kafki/kafki/state"
)

// StoreMarkerFileName is the marker file in every persistent store
// directory. It records what wrote the directory (engine, kind, format
// version); a store directory without a valid marker, or with one that does
// not match the store's spec, is foreign or corrupt and is rebuilt.
const StoreMarkerFileName = ".kafki-store"

// StoreFormatVersion is the version of the on-disk layout of Kafki's
// stores. Raising it makes every existing store directory foreign: it is
// wiped and rebuilt from its changelog.
const StoreFormatVersion = 1

// StoreMarker is the content of a store's marker file.
type StoreMarker struct {
	Version          int
	Engine           state.Engine
	Kind             state.Kind
	Timestamped      bool
	RetainDuplicates bool
	// TimeOrdered session stores hold an index by session end that other
	// session stores lack. Written only when set, so that the markers of
	// every other store read as before.
	TimeOrdered bool
}

// MarkerFor is the marker a store directory opened for spec must have.
func MarkerFor(spec state.Spec) StoreMarker {
	return StoreMarker{
		Version:          StoreFormatVersion,
		Engine:           spec.Engine,
		Kind:             spec.Kind,
		Timestamped:      spec.Timestamped,
		RetainDuplicates: spec.Kind == state.KindWindow && spec.RetainDuplicates,
		TimeOrdered:      spec.Kind == state.KindSession && spec.TimeOrdered,
	}
}

func kindName(k state.Kind) string {
	switch k {
	case state.KindKeyValue:
		return "keyvalue"
	case state.KindWindow:
		return "window"
	case state.KindSession:
		return "session"
	}
	return "kind-" + strconv.Itoa(int(k))
}

func (m StoreMarker) encode() []byte {
	b := fmt.Appendf(nil, "kafki-store %d\nengine %s\nkind %s\ntimestamped %t\nretain-duplicates %t\n",
		m.Version, m.Engine, kindName(m.Kind), m.Timestamped, m.RetainDuplicates)
	if m.TimeOrdered {
		b = append(b, "time-ordered true\n"...)
	}
	return b
}

// ReadStoreMarker reads the marker of the store directory dir.
func ReadStoreMarker(dir string) (StoreMarker, error) {
	data, err := os.ReadFile(filepath.Join(dir, StoreMarkerFileName))
	if err != nil {
		return StoreMarker{}, err
	}
	var m StoreMarker
	lines := strings.Split(string(data), "\n")
	if (len(lines) != 6 && len(lines) != 7) || lines[len(lines)-1] != "" {
		return StoreMarker{}, errors.New("malformed marker file")
	}
	if _, err := fmt.Sscanf(lines[0], "kafki-store %d", &m.Version); err != nil {
		return StoreMarker{}, fmt.Errorf("malformed marker file: %q", lines[0])
	}
	fields := map[string]string{}
	for _, l := range lines[1 : len(lines)-1] {
		k, v, ok := strings.Cut(l, " ")
		if !ok {
			return StoreMarker{}, fmt.Errorf("malformed marker file: %q", l)
		}
		fields[k] = v
	}
	m.Engine = -1
	for _, e := range []state.Engine{state.RocksDB, state.InMemory, state.Pebble} {
		if e.String() == fields["engine"] {
			m.Engine = e
		}
	}
	m.Kind = -1
	for _, k := range []state.Kind{state.KindKeyValue, state.KindWindow, state.KindSession} {
		if kindName(k) == fields["kind"] {
			m.Kind = k
		}
	}
	if m.Engine < 0 || m.Kind < 0 {
		return StoreMarker{}, fmt.Errorf("marker file names an unknown engine %q or kind %q", fields["engine"], fields["kind"])
	}
	if m.Timestamped, err = strconv.ParseBool(fields["timestamped"]); err != nil {
		return StoreMarker{}, fmt.Errorf("malformed marker file: timestamped %q", fields["timestamped"])
	}
	if m.RetainDuplicates, err = strconv.ParseBool(fields["retain-duplicates"]); err != nil {
		return StoreMarker{}, fmt.Errorf("malformed marker file: retain-duplicates %q", fields["retain-duplicates"])
	}
	if len(lines) == 7 {
		if v, ok := fields["time-ordered"]; !ok || v != "true" {
			return StoreMarker{}, fmt.Errorf("malformed marker file: %q", lines[5])
		}
		m.TimeOrdered = true
	}
	return m, nil
}

// WriteStoreMarker writes the marker of the store directory dir.
func WriteStoreMarker(dir string, m StoreMarker) error {
	return writeFileAtomic(filepath.Join(dir, StoreMarkerFileName), m.encode())
}

// StoreOptions are the options of OpenStore.
type StoreOptions struct {
	// Changelog is the store's changelog partition. When the store is
	// created or rebuilt, its entry is dropped from the task's checkpoint
	// file before anything is written to the store, so that a crash during
	// restoration cannot leave a checkpoint that the store is behind.
	Changelog TopicPartition
	// Open, if set, opens the engine store of spec in dir (dir is empty
	// for in-memory stores) instead of state.Open (which opens persistent
	// engines through their registration: state.RegisterEngine).
	Open func(spec state.Spec, dir string) (state.Store, error)
}

// OpenStore opens the engine store of spec for the task of td and tells
// whether the task's checkpointed offset for it can be trusted.
//
// A persistent store lives in td.StorePath(spec.Name). When that directory
// is missing, has no valid marker file, has a marker that disagrees with
// spec (another engine, kind or format version), or holds files the engine
// cannot open, or holds another database than the one the checkpoint was
// written for (its identity, recorded in the task's StoreIdentityFileName,
// differs: the engine's files, or a window or session store's segments,
// were removed or replaced; see identity.go), the directory is wiped (with a warning in the log), its
// checkpoint entry dropped and the store created empty: trusted is false
// and the store must be restored from the beginning of its changelog.
// In-memory stores always start empty and are never trusted.
func OpenStore(td *TaskDir, spec state.Spec, opts StoreOptions) (store state.Store, trusted bool, err error) {
	if err := validName("store name", spec.Name); err != nil {
		return nil, false, err
	}
	open := opts.Open
	if open == nil {
		open = state.Open
	}
	dir := td.StorePath(spec.Name)
	log := td.logger.With("store", spec.Name, "dir", dir)

	if spec.Engine == state.InMemory {
		if _, err := os.Stat(dir); err == nil {
			log.Warn("removing the directory of a store that is now in memory")
			if err := td.WipeStore(spec.Name); err != nil {
				return nil, false, err
			}
		}
		if err := td.forget(opts.Changelog); err != nil {
			return nil, false, err
		}
		store, err := open(spec, "")
		return store, false, err
	}

	want := MarkerFor(spec)
	if _, err := os.Stat(dir); err == nil {
		got, err := ReadStoreMarker(dir)
		switch {
		case err != nil:
			log.Warn("store directory has no valid marker: foreign or corrupt, wiping it and restoring from the changelog", "err", err)
		case got != want:
			log.Warn("store directory was written for another store format, wiping it and restoring from the changelog",
				"found", strings.TrimSpace(string(got.encode())), "want", strings.TrimSpace(string(want.encode())))
		default:
			store, err := open(spec, dir)
			if err != nil {
				log.Warn("cannot open store directory, wiping it and restoring from the changelog", "err", err)
				break
			}
			// The checkpoint is for the database it was written with: an
			// engine that opens a directory emptied of its files creates a
			// new, empty database there, and restoring only the tail of
			// the changelog into it would make a wrong store.
			ident, ierr := engineIdentity(spec, dir)
			recorded := td.storeIdentity(spec.Name)
			if ierr == nil && identityMatches(spec, recorded, ident, store) {
				td.track(spec)
				return store, true, nil
			}
			if cerr := store.Close(); cerr != nil {
				log.Warn("closing a store to wipe it", "err", cerr)
			}
			log.Warn("store directory holds another database than its checkpoint was written for (files removed or replaced); wiping it and restoring from the changelog",
				"database", ident, "checkpointed", recorded, "err", ierr)
		}
	}
	if err := td.WipeStore(spec.Name); err != nil {
		return nil, false, err
	}
	if err := td.forget(opts.Changelog); err != nil {
		return nil, false, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, false, fmt.Errorf("changelog: create store directory: %w", err)
	}
	if err := WriteStoreMarker(dir, want); err != nil {
		return nil, false, fmt.Errorf("changelog: store %s: %w", spec.Name, err)
	}
	store, err = open(spec, dir)
	if err != nil {
		return nil, false, err
	}
	ident, err := engineIdentity(spec, dir)
	if err == nil {
		err = td.setStoreIdentity(spec.Name, ident)
	}
	if err != nil {
		store.Close()
		return nil, false, fmt.Errorf("changelog: store %s: record database identity: %w", spec.Name, err)
	}
	td.track(spec)
	return store, false, nil
}

// ResetStore closes store, deletes its directory and checkpoint entry and
// opens it again, empty: for a store that must be rebuilt from the
// beginning of its changelog, such as one whose checkpointed offset is no
// longer in the changelog (OffsetOutOfRangeError). store may be the engine
// store or a wrapper of it; the returned store is the engine store.
func ResetStore(td *TaskDir, spec state.Spec, store state.Store, opts StoreOptions) (state.Store, error) {
	if store != nil {
		if err := store.Close(); err != nil {
			td.logger.Warn("closing a store to reset it", "store", spec.Name, "err", err)
		}
	}
	if err := td.WipeStore(spec.Name); err != nil {
		return nil, err
	}
	st, _, err := OpenStore(td, spec, opts)
	return st, err
}

// forget drops the checkpoint entry of tp, if any.
func (t *TaskDir) forget(tp TopicPartition) error {
	if tp.Topic == "" {
		return nil
	}
	offsets, err := ReadCheckpoint(t.CheckpointPath())
	if err != nil {
		// An untrusted checkpoint is as good as none: remove it.
		return t.RemoveCheckpoint()
	}
	if _, ok := offsets[tp]; !ok {
		return nil
	}
	delete(offsets, tp)
	return t.WriteCheckpoint(offsets)
}
