package changelog

import (
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/kafki/kafki/state"
)

// A checkpointed offset says how much of the changelog a store's database
// holds; it is worth nothing for another database. OpenStore therefore
// trusts a checkpoint entry only when the database on disk is the one the
// entry was written for, as recorded in the task's StoreIdentityFileName:
//
//   - a key-value store is one database: its identity is the unique id the
//     engine wrote to the database's IDENTITY file when it created it
//     (RocksDB does; Kafki's Pebble engine does likewise), recorded when
//     OpenStore creates the store;
//   - a window or session store is one database per time segment, created
//     and dropped as stream time passes: its identity is the set of its
//     segments' ids, recorded each time the task writes its checkpoint
//     (TaskDir.WriteCheckpoint). On open, every recorded segment must still
//     be there with the same id, unless it has expired since (it would be
//     dropped anyway, and restoration skips what it held). Segments created
//     after the checkpoint are newer than it, which restoration tolerates.
//
// A segment dropped on expiry after the last checkpoint, when the stream
// time at reopen (the start of the newest segment, a lower bound) does not
// show it as expired, makes the store untrusted: a full restoration, never
// a wrong store.

// StoreIdentityFileName is the file in a task directory that records, for
// each persistent store, the identity of the database its checkpointed
// offset belongs to. It sits next to the checkpoint file rather than in it,
// so that the checkpoint keeps Kafka Streams' format.
const StoreIdentityFileName = ".store-identity"

// segmentsPrefix starts the recorded identity of a segmented store:
// "segments:" then "<segment start>=<id>" entries, comma separated.
const segmentsPrefix = "segments:"

func segmented(spec state.Spec) bool {
	return spec.Kind == state.KindWindow || spec.Kind == state.KindSession
}

// engineIdentity returns the identity of the database(s) in dir: the id
// in the IDENTITY file of a key-value store, or the ids of a window or
// session store's segments (see above). Engines with no such id (none
// persistent but RocksDB and Pebble exist) return "" and are trusted by
// their marker alone.
func engineIdentity(spec state.Spec, dir string) (string, error) {
	if spec.Engine != state.RocksDB && spec.Engine != state.Pebble {
		return "", nil
	}
	if segmented(spec) {
		return segmentsIdentity(spec, dir)
	}
	return readIdentity(spec, dir)
}

func readIdentity(spec state.Spec, dir string) (string, error) {
	b, err := os.ReadFile(filepath.Join(dir, "IDENTITY"))
	if err != nil {
		return "", fmt.Errorf("read %s identity: %w", spec.Engine, err)
	}
	id := strings.TrimSpace(string(b))
	if id == "" || strings.ContainsAny(id, " \n,=") {
		return "", fmt.Errorf("%s identity %q is malformed", spec.Engine, id)
	}
	return id, nil
}

// segmentsIdentity lists the segment databases of a window or session store
// in dir (subdirectories <store>.<segment start>) with their ids.
func segmentsIdentity(spec state.Spec, dir string) (string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return "", fmt.Errorf("list segments: %w", err)
	}
	prefix := spec.Name + "."
	var parts []string
	for _, e := range entries {
		if !e.IsDir() || !strings.HasPrefix(e.Name(), prefix) {
			continue
		}
		start, err := strconv.ParseInt(strings.TrimPrefix(e.Name(), prefix), 10, 64)
		if err != nil {
			continue // not a segment: the store ignores it too
		}
		id, err := readIdentity(spec, filepath.Join(dir, e.Name()))
		if errors.Is(err, fs.ErrNotExist) {
			continue // no database the store opened: it writes one first
		}
		if err != nil {
			return "", fmt.Errorf("segment %d: %w", start, err)
		}
		parts = append(parts, strconv.FormatInt(start, 10)+"="+id)
	}
	sort.Strings(parts)
	return segmentsPrefix + strings.Join(parts, ","), nil
}

func parseSegments(ident string) (map[int64]string, bool) {
	rest, ok := strings.CutPrefix(ident, segmentsPrefix)
	if !ok {
		return nil, false
	}
	out := map[int64]string{}
	if rest == "" {
		return out, true
	}
	for _, part := range strings.Split(rest, ",") {
		s, id, ok := strings.Cut(part, "=")
		start, err := strconv.ParseInt(s, 10, 64)
		if !ok || err != nil || id == "" {
			return nil, false
		}
		out[start] = id
	}
	return out, true
}

// segmentTimes is what the window and session stores of package state tell
// about their segments (times in ms).
type segmentTimes interface {
	Retention() int64
	SegmentInterval() int64
	ObservedStreamTime() int64
}

// identityMatches reports whether the database(s) opened in store, whose
// identity is current, are those the recorded identity was written for.
func identityMatches(spec state.Spec, recorded, current string, store state.Store) bool {
	if !segmented(spec) || (spec.Engine != state.RocksDB && spec.Engine != state.Pebble) {
		return recorded == current
	}
	want, ok1 := parseSegments(recorded)
	have, ok2 := parseSegments(current)
	times, ok3 := store.(segmentTimes)
	if !ok1 || !ok2 || !ok3 {
		return false
	}
	interval, observed := times.SegmentInterval(), times.ObservedStreamTime()
	// The oldest time still retained; math.MinInt64 when nothing was
	// observed (no segment on disk): then no segment has expired.
	minLive := int64(math.MinInt64)
	if observed != math.MinInt64 && observed-times.Retention()+1 <= observed {
		minLive = observed - times.Retention() + 1
	}
	for start, id := range want {
		if got, ok := have[start]; ok {
			if got != id {
				return false
			}
			continue
		}
		if minLive == math.MinInt64 || start+interval > minLive {
			return false // gone, and not expired: removed or lost
		}
	}
	return true
}

// storeIdentities reads the task's identity file: store name -> identity.
// A missing or malformed file is empty: no store is then trusted.
func (t *TaskDir) storeIdentities() map[string]string {
	out := map[string]string{}
	data, err := os.ReadFile(filepath.Join(t.path, StoreIdentityFileName))
	if err != nil {
		return out
	}
	for _, line := range strings.Split(string(data), "\n") {
		if name, id, ok := strings.Cut(line, " "); ok && name != "" {
			out[name] = id
		}
	}
	return out
}

// storeIdentity returns the recorded identity of store, or "-" (which no
// database has) when none is recorded.
func (t *TaskDir) storeIdentity(store string) string {
	if id, ok := t.storeIdentities()[store]; ok {
		return id
	}
	return "-"
}

// setStoreIdentity records the identity of store's new database.
func (t *TaskDir) setStoreIdentity(store, ident string) error {
	ids := t.storeIdentities()
	ids[store] = ident
	return t.writeIdentities(ids)
}

func (t *TaskDir) writeIdentities(ids map[string]string) error {
	names := make([]string, 0, len(ids))
	for n := range ids {
		names = append(names, n)
	}
	sort.Strings(names)
	var b strings.Builder
	for _, n := range names {
		fmt.Fprintf(&b, "%s %s\n", n, ids[n])
	}
	return writeFileAtomic(filepath.Join(t.path, StoreIdentityFileName), []byte(b.String()))
}

// track remembers a segmented persistent store that OpenStore opened (and
// so checked) in this task directory: its segments' identity is recorded
// with every checkpoint from now on. Stores not opened through this
// TaskDir are never recorded, so that a checkpoint written before a
// damaged store was looked at cannot bless it.
func (t *TaskDir) track(spec state.Spec) {
	if !segmented(spec) || (spec.Engine != state.RocksDB && spec.Engine != state.Pebble) {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.segmented == nil {
		t.segmented = map[string]state.Spec{}
	}
	t.segmented[spec.Name] = spec
}

// untrack forgets a store whose directory was wiped.
func (t *TaskDir) untrack(store string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.segmented, store)
}

// recordSegments records the current segments of the tracked segmented
// stores, before a checkpoint is written for them. The file is rewritten
// only when a segment came or went.
func (t *TaskDir) recordSegments() error {
	t.mu.Lock()
	specs := make([]state.Spec, 0, len(t.segmented))
	for _, s := range t.segmented {
		specs = append(specs, s)
	}
	t.mu.Unlock()
	if len(specs) == 0 {
		return nil
	}
	ids := t.storeIdentities()
	changed := false
	for _, spec := range specs {
		ident, err := segmentsIdentity(spec, t.StorePath(spec.Name))
		if err != nil {
			return fmt.Errorf("changelog: store %s: record segment identities: %w", spec.Name, err)
		}
		if ids[spec.Name] != ident {
			ids[spec.Name], changed = ident, true
		}
	}
	if !changed {
		return nil
	}
	return t.writeIdentities(ids)
}
