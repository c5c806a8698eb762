package changelog

import (
	"bytes"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kafki/kafki/internal/kafkatest"
	"github.com/kafki/kafki/state"
)

func openTask(t *testing.T, root string, logs *bytes.Buffer) *TaskDir {
	t.Helper()
	logger := quietLogger()
	if logs != nil {
		logger = slog.New(slog.NewTextHandler(logs, nil))
	}
	sd, err := OpenStateDir(root, "app", WithLogger(logger))
	if err != nil {
		t.Fatal(err)
	}
	td, err := sd.LockTask("0_0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { td.Close() })
	return td
}

func TestStoreMarkerRoundTrip(t *testing.T) {
	dir := t.TempDir()
	for _, spec := range []state.Spec{
		{Name: "a", Kind: state.KindKeyValue, Engine: state.RocksDB},
		{Name: "b", Kind: state.KindWindow, Engine: state.RocksDB, RetainDuplicates: true, Timestamped: true},
		{Name: "c", Kind: state.KindSession, Engine: state.InMemory},
		{Name: "d", Kind: state.KindSession, Engine: state.Pebble, TimeOrdered: true},
	} {
		m := MarkerFor(spec)
		if err := WriteStoreMarker(dir, m); err != nil {
			t.Fatal(err)
		}
		got, err := ReadStoreMarker(dir)
		if err != nil || got != m {
			t.Fatalf("marker %+v read back as %+v, %v", m, got, err)
		}
	}
	for _, bad := range []string{"", "garbage", "kafki-store 1\nengine rocksdb\nkind keyvalue\ntimestamped false\n",
		"kafki-store 1\nengine leveldb\nkind keyvalue\ntimestamped false\nretain-duplicates false\n",
		"kafki-store 1\nengine rocksdb\nkind keyvalue\ntimestamped maybe\nretain-duplicates false\n",
		"kafki-store 1\nengine rocksdb\nkind session\ntimestamped false\nretain-duplicates false\ntime-ordered false\n"} {
		os.WriteFile(filepath.Join(dir, StoreMarkerFileName), []byte(bad), 0o644)
		if m, err := ReadStoreMarker(dir); err == nil {
			t.Errorf("marker %q read as %+v", bad, m)
		}
	}
}

// writeRocksStore creates a RocksDB store with one key through OpenStore and
// records a checkpoint entry for it.
func writeRocksStore(t *testing.T, td *TaskDir, spec state.Spec, tp TopicPartition) {
	t.Helper()
	st, trusted, err := OpenStore(td, spec, StoreOptions{Changelog: tp})
	if err != nil {
		t.Fatal(err)
	}
	if trusted {
		t.Fatal("new store trusted")
	}
	if err := st.(state.KeyValueStore).Put([]byte("k"), []byte("v")); err != nil {
		t.Fatal(err)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}
	other := TopicPartition{"app-other-changelog", 0}
	if err := td.WriteCheckpoint(Offsets{tp: 42, other: 7}); err != nil {
		t.Fatal(err)
	}
}

func TestOpenStoreTrustsItsOwnDirectory(t *testing.T) {
	td := openTask(t, t.TempDir(), nil)
	spec := state.Spec{Name: "s", Kind: state.KindKeyValue, Engine: state.RocksDB}
	tp := TopicPartition{"app-s-changelog", 0}
	writeRocksStore(t, td, spec, tp)
	st, trusted, err := OpenStore(td, spec, StoreOptions{Changelog: tp})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if !trusted {
		t.Fatal("a store reopened as written is not trusted")
	}
	if v, _ := st.(state.KeyValueStore).Get([]byte("k")); string(v) != "v" {
		t.Fatalf("reopened store lost its data: %q", v)
	}
	if got := td.ReadCheckpoint(); got[tp] != 42 {
		t.Fatalf("checkpoint entry changed: %v", got)
	}
}

func TestOpenStoreWipesForeignDirectories(t *testing.T) {
	for _, engine := range []state.Engine{state.RocksDB, state.Pebble} {
		t.Run(engine.String(), func(t *testing.T) { testOpenStoreWipesForeign(t, engine) })
	}
}

func testOpenStoreWipesForeign(t *testing.T, engine state.Engine) {
	spec := state.Spec{Name: "s", Kind: state.KindKeyValue, Engine: engine}
	tp := TopicPartition{"app-s-changelog", 0}
	cases := map[string]func(t *testing.T, dir string){
		"no marker, foreign files": func(t *testing.T, dir string) {
			os.Remove(filepath.Join(dir, StoreMarkerFileName))
			os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("not a store"), 0o644)
		},
		"garbage marker": func(t *testing.T, dir string) {
			os.WriteFile(filepath.Join(dir, StoreMarkerFileName), []byte("\x00\x01garbage"), 0o644)
		},
		"marker of another kind": func(t *testing.T, dir string) {
			m := MarkerFor(spec)
			m.Kind = state.KindWindow
			WriteStoreMarker(dir, m)
		},
		"marker of another format version": func(t *testing.T, dir string) {
			m := MarkerFor(spec)
			m.Version = StoreFormatVersion + 1
			WriteStoreMarker(dir, m)
		},
		"corrupt engine files": func(t *testing.T, dir string) {
			// CURRENT (RocksDB) or the manifest marker (Pebble) names
			// the manifest; garbage there and in every MANIFEST makes
			// the database unopenable.
			files, _ := filepath.Glob(filepath.Join(dir, "MANIFEST-*"))
			if engine == state.RocksDB {
				files = append(files, filepath.Join(dir, "CURRENT"))
			}
			for _, f := range files {
				if err := os.WriteFile(f, []byte("garbage\n"), 0o644); err != nil {
					t.Fatal(err)
				}
			}
		},
		"engine files removed, marker kept": func(t *testing.T, dir string) {
			entries, _ := os.ReadDir(dir)
			for _, e := range entries {
				if e.Name() != StoreMarkerFileName {
					if err := os.RemoveAll(filepath.Join(dir, e.Name())); err != nil {
						t.Fatal(err)
					}
				}
			}
		},
		"another database's files": func(t *testing.T, dir string) {
			// A valid store of the same spec, written elsewhere, copied
			// over this one: it opens, but the checkpoint is not its own.
			other := openTask(t, t.TempDir(), nil)
			st, _, err := OpenStore(other, spec, StoreOptions{})
			if err != nil {
				t.Fatal(err)
			}
			st.(state.KeyValueStore).Put([]byte("x"), []byte("y"))
			st.Close()
			os.RemoveAll(dir)
			if err := exec.Command("cp", "-a", other.StorePath(spec.Name), dir).Run(); err != nil {
				t.Fatal(err)
			}
		},
		"a file instead of a directory": func(t *testing.T, dir string) {
			os.RemoveAll(dir)
			os.WriteFile(dir, []byte("file"), 0o644)
		},
	}
	for name, damage := range cases {
		t.Run(name, func(t *testing.T) {
			var logs bytes.Buffer
			td := openTask(t, t.TempDir(), &logs)
			writeRocksStore(t, td, spec, tp)
			damage(t, td.StorePath(spec.Name))
			st, trusted, err := OpenStore(td, spec, StoreOptions{Changelog: tp})
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			if trusted {
				t.Fatal("a foreign store directory was trusted")
			}
			if v, _ := st.(state.KeyValueStore).Get([]byte("k")); v != nil {
				t.Fatalf("the wiped store still has data: %q", v)
			}
			if _, err := os.Stat(filepath.Join(td.StorePath(spec.Name), "notes.txt")); !os.IsNotExist(err) {
				t.Error("foreign file survived")
			}
			cp := td.ReadCheckpoint()
			if _, ok := cp[tp]; ok {
				t.Errorf("checkpoint entry of the wiped store kept: %v", cp)
			}
			if cp[TopicPartition{"app-other-changelog", 0}] != 7 {
				t.Errorf("checkpoint entry of another store lost: %v", cp)
			}
			wantLog := "no valid marker"
			switch name {
			case "corrupt engine files":
				wantLog = "cannot open store directory"
			case "marker of another kind", "marker of another format version":
				wantLog = "another store format"
			case "engine files removed, marker kept", "another database's files":
				wantLog = "another database than its checkpoint was written for"
			}
			if !strings.Contains(logs.String(), "level=WARN") || !strings.Contains(logs.String(), wantLog) {
				t.Errorf("no warning %q logged: %q", wantLog, logs.String())
			}
			if m, err := ReadStoreMarker(td.StorePath(spec.Name)); err != nil || m != MarkerFor(spec) {
				t.Errorf("rebuilt store has marker %+v, %v", m, err)
			}
			st.Close()
			// Written by us now: trusted on the next open.
			st2, trusted, err := OpenStore(td, spec, StoreOptions{Changelog: tp})
			if err != nil {
				t.Fatal(err)
			}
			st2.Close()
			if !trusted {
				t.Error("the rebuilt store is not trusted on reopen")
			}
		})
	}
}

func TestOpenStoreInMemoryIsNeverTrusted(t *testing.T) {
	td := openTask(t, t.TempDir(), nil)
	tp := TopicPartition{"app-s-changelog", 0}
	// A directory left by the store when it was a RocksDB store goes away.
	writeRocksStore(t, td, state.Spec{Name: "s", Kind: state.KindKeyValue, Engine: state.RocksDB}, tp)
	st, trusted, err := OpenStore(td, state.Spec{Name: "s", Kind: state.KindKeyValue, Engine: state.InMemory}, StoreOptions{Changelog: tp})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if trusted || st.Persistent() {
		t.Fatalf("in-memory store: trusted %v, persistent %v", trusted, st.Persistent())
	}
	if _, err := os.Stat(td.StorePath("s")); !os.IsNotExist(err) {
		t.Errorf("old store directory kept: %v", err)
	}
	if _, ok := td.ReadCheckpoint()[tp]; ok {
		t.Error("checkpoint entry kept")
	}
}

// End to end: a corrupt store directory is wiped and rebuilt from the
// changelog.
func TestCorruptStoreRebuiltFromChangelog(t *testing.T) {
	c := kafkatest.New(t, 1)
	appID := c.Topic("app")
	spec := state.Spec{Name: "s", Kind: state.KindKeyValue, Engine: state.RocksDB}
	topic := ChangelogTopic(appID, spec.Name)
	createChangelog(c, topic, 1, spec)
	tp := TopicPartition{topic, 0}
	sink := newProducerSink(t, c)
	td := openTask(t, t.TempDir(), nil)

	st, _, err := OpenStore(td, spec, StoreOptions{Changelog: tp})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{}
	writeKV(t, NewLoggingKeyValueStore(st.(state.KeyValueStore), topic, 0, sink, nil), want, 0, 2000)
	sent := sink.flush(t)
	st.Close()
	if err := td.WriteCheckpoint(Offsets{tp: int64(sent)}); err != nil {
		t.Fatal(err)
	}
	// Someone else's files replace the store.
	os.RemoveAll(td.StorePath(spec.Name))
	os.MkdirAll(td.StorePath(spec.Name), 0o755)
	os.WriteFile(filepath.Join(td.StorePath(spec.Name), "CURRENT"), []byte("MANIFEST-000001\n"), 0o644)

	st, trusted, err := OpenStore(td, spec, StoreOptions{Changelog: tp})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	start := int64(0)
	if trusted {
		start = td.ReadCheckpoint()[tp]
	}
	if start != 0 {
		t.Fatalf("restoration of a rebuilt store starts at %d", start)
	}
	r := newRestorer(t, c, RestorerConfig{})
	res, err := r.Restore(ctxT(t), Job{Store: mustRestorable(t, st), Partition: tp, Start: start})
	if err != nil {
		t.Fatal(err)
	}
	if res.Restored != int64(sent) {
		t.Errorf("restored %d records, want %d", res.Restored, sent)
	}
	compareContents(t, contents(t, st.(state.KeyValueStore)), want)
}

func TestResetStore(t *testing.T) {
	td := openTask(t, t.TempDir(), nil)
	spec := state.Spec{Name: "s", Kind: state.KindKeyValue, Engine: state.RocksDB}
	tp := TopicPartition{"app-s-changelog", 0}
	writeRocksStore(t, td, spec, tp)
	st, trusted, err := OpenStore(td, spec, StoreOptions{Changelog: tp})
	if err != nil || !trusted {
		t.Fatalf("open: trusted %v, %v", trusted, err)
	}
	logged := NewLoggingKeyValueStore(st.(state.KeyValueStore), tp.Topic, 0, &memSink{}, nil)
	st, err = ResetStore(td, spec, logged, StoreOptions{Changelog: tp})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if v, _ := st.(state.KeyValueStore).Get([]byte("k")); v != nil {
		t.Errorf("reset store still has %q", v)
	}
	cp := td.ReadCheckpoint()
	if _, ok := cp[tp]; ok || len(cp) != 1 {
		t.Errorf("checkpoint after reset: %v (want only the other store's entry)", cp)
	}
}
