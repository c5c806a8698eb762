package changelog

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kafki/kafki/state"
)

// segBase is a time aligned to the 30-minute segments of a store with one
// hour of retention.
const segBase = int64(1_700_000_000_000) / 1_800_000 * 1_800_000

// putAt writes one record at time ts (window start, or session end) to a
// window or session store.
func putAt(t *testing.T, st state.Store, key string, ts int64) {
	t.Helper()
	var err error
	switch s := st.(type) {
	case state.WindowStore:
		err = s.Put([]byte(key), []byte("v"+key), ts)
	case state.SessionStore:
		err = s.Put([]byte(key), ts-1000, ts, []byte("v"+key))
	}
	if err != nil {
		t.Fatal(err)
	}
}

// hasAt reports whether the record putAt wrote is in the store.
func hasAt(t *testing.T, st state.Store, key string, ts int64) bool {
	t.Helper()
	var v []byte
	var err error
	switch s := st.(type) {
	case state.WindowStore:
		v, err = s.Fetch([]byte(key), ts)
	case state.SessionStore:
		v, err = s.FetchSession([]byte(key), ts-1000, ts)
	}
	if err != nil {
		t.Fatal(err)
	}
	return string(v) == "v"+key
}

func segDir(td *TaskDir, spec state.Spec, start int64) string {
	return filepath.Join(td.StorePath(spec.Name), fmt.Sprintf("%s.%d", spec.Name, start))
}

// TestOpenStoreSegmentIdentity checks that the checkpoint of a window or
// session store (one database per time segment) is trusted only for the
// segments it was written with: a segment removed, emptied or replaced
// makes OpenStore wipe the store and drop its checkpoint entry, so that it
// is restored from the beginning of its changelog; segments that appeared
// or expired since the checkpoint do not.
func TestOpenStoreSegmentIdentity(t *testing.T) {
	for _, engine := range []state.Engine{state.RocksDB, state.Pebble} {
		for _, kind := range []state.Kind{state.KindWindow, state.KindSession} {
			t.Run(fmt.Sprintf("%s/%s", engine, kindName(kind)), func(t *testing.T) { testSegmentIdentity(t, engine, kind) })
		}
	}
}

func testSegmentIdentity(t *testing.T, engine state.Engine, kind state.Kind) {
	spec := state.Spec{Name: "w", Kind: kind, Engine: engine, Retention: time.Hour, WindowSize: time.Minute}
	tp := TopicPartition{"app-w-changelog", 0}
	other := TopicPartition{"app-other-changelog", 0}
	const seg = int64(30 * 60_000)
	// write makes the store with records in two segments and checkpoints
	// it, as a commit does.
	write := func(t *testing.T, td *TaskDir) {
		st, trusted, err := OpenStore(td, spec, StoreOptions{Changelog: tp})
		if err != nil || trusted {
			t.Fatalf("new store: trusted %v, %v", trusted, err)
		}
		putAt(t, st, "a", segBase+60_000)
		putAt(t, st, "b", segBase+seg+60_000)
		if err := td.WriteCheckpoint(Offsets{tp: 42, other: 7}); err != nil {
			t.Fatal(err)
		}
		if err := st.Close(); err != nil {
			t.Fatal(err)
		}
	}
	// reopenAndWrite opens the trusted store, writes at ts and closes it
	// without a checkpoint (a crash after a commit).
	reopenAndWrite := func(t *testing.T, td *TaskDir, ts int64) {
		st, trusted, err := OpenStore(td, spec, StoreOptions{Changelog: tp})
		if err != nil || !trusted {
			t.Fatalf("reopen: trusted %v, %v", trusted, err)
		}
		putAt(t, st, "c", ts)
		st.Close()
	}
	cases := []struct {
		name    string
		damage  func(t *testing.T, td *TaskDir)
		trusted bool
	}{
		{"as written", func(*testing.T, *TaskDir) {}, true},
		{"a segment added since", func(t *testing.T, td *TaskDir) { reopenAndWrite(t, td, segBase+2*seg+60_000) }, true},
		{"segments expired since", func(t *testing.T, td *TaskDir) {
			reopenAndWrite(t, td, segBase+4*seg+60_000)
			if _, err := os.Stat(segDir(td, spec, segBase)); !os.IsNotExist(err) {
				t.Fatalf("the expired segment is still there: %v", err)
			}
		}, true},
		{"a live segment removed", func(t *testing.T, td *TaskDir) {
			if err := os.RemoveAll(segDir(td, spec, segBase)); err != nil {
				t.Fatal(err)
			}
		}, false},
		{"the newest segment removed", func(t *testing.T, td *TaskDir) {
			if err := os.RemoveAll(segDir(td, spec, segBase+seg)); err != nil {
				t.Fatal(err)
			}
		}, false},
		{"every segment removed", func(t *testing.T, td *TaskDir) {
			os.RemoveAll(segDir(td, spec, segBase))
			os.RemoveAll(segDir(td, spec, segBase+seg))
		}, false},
		{"a segment emptied of its files", func(t *testing.T, td *TaskDir) {
			dir := segDir(td, spec, segBase)
			entries, _ := os.ReadDir(dir)
			for _, e := range entries {
				if err := os.RemoveAll(filepath.Join(dir, e.Name())); err != nil {
					t.Fatal(err)
				}
			}
		}, false},
		{"a segment of another store copied over", func(t *testing.T, td *TaskDir) {
			otherTask := openTask(t, t.TempDir(), nil)
			st, _, err := OpenStore(otherTask, spec, StoreOptions{})
			if err != nil {
				t.Fatal(err)
			}
			putAt(t, st, "a", segBase+60_000)
			st.Close()
			os.RemoveAll(segDir(td, spec, segBase))
			if err := exec.Command("cp", "-a", segDir(otherTask, spec, segBase), segDir(td, spec, segBase)).Run(); err != nil {
				t.Fatal(err)
			}
		}, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var logs bytes.Buffer
			td := openTask(t, t.TempDir(), &logs)
			write(t, td)
			c.damage(t, td)
			st, trusted, err := OpenStore(td, spec, StoreOptions{Changelog: tp})
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			cp := td.ReadCheckpoint()
			if cp[other] != 7 {
				t.Errorf("checkpoint entry of another store lost: %v", cp)
			}
			if c.trusted {
				if !trusted || cp[tp] != 42 {
					t.Fatalf("trusted %v, checkpoint %v: want the store and its entry kept", trusted, cp)
				}
				key, ts := "b", segBase+seg+60_000
				if c.name == "segments expired since" {
					key, ts = "c", segBase+4*seg+60_000
				}
				if !hasAt(t, st, key, ts) {
					t.Fatal("the trusted store lost a record")
				}
				return
			}
			if trusted {
				t.Fatal("a store with a damaged segment was trusted")
			}
			if _, ok := cp[tp]; ok {
				t.Errorf("checkpoint entry of the wiped store kept: %v", cp)
			}
			if hasAt(t, st, "b", segBase+seg+60_000) {
				t.Error("the wiped store still has data")
			}
			if !strings.Contains(logs.String(), "another database than its checkpoint was written for") {
				t.Errorf("no warning logged: %q", logs.String())
			}
			// Rebuilt and checkpointed by us: trusted on the next open.
			putAt(t, st, "b", segBase+seg+60_000)
			if err := td.WriteCheckpoint(Offsets{tp: 42, other: 7}); err != nil {
				t.Fatal(err)
			}
			st.Close()
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
