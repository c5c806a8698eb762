package changelog

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/kafki/kafki/internal/kafkatest"
	"github.com/kafki/kafki/state"
)

func dumpWindows(t *testing.T, s state.WindowStore) []string {
	t.Helper()
	it, err := s.All()
	if err != nil {
		t.Fatal(err)
	}
	defer it.Close()
	var out []string
	for it.Next() {
		out = append(out, fmt.Sprintf("%s@%d=%s", it.Key(), it.WindowStart(), it.Value()))
	}
	if err := it.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func dumpSessions(t *testing.T, s state.SessionStore, keys []string) []string {
	t.Helper()
	var out []string
	for _, k := range keys {
		it, err := s.Fetch([]byte(k))
		if err != nil {
			t.Fatal(err)
		}
		for it.Next() {
			out = append(out, fmt.Sprintf("%s[%d,%d]=%s", it.Key(), it.Start(), it.End(), it.Value()))
		}
		if err := it.Err(); err != nil {
			t.Fatal(err)
		}
		it.Close()
	}
	return out
}

func compareDumps(t *testing.T, what string, got, want []string) {
	t.Helper()
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		n := min(len(got), len(want))
		for i := 0; i < n; i++ {
			if got[i] != want[i] {
				t.Fatalf("%s: %d entries, want %d; first difference at %d: %q, want %q", what, len(got), len(want), i, got[i], want[i])
			}
		}
		t.Fatalf("%s: %d entries, want %d", what, len(got), len(want))
	}
}

// newLoggedTask creates the changelog of spec (one partition) for a new
// application and opens the store in task 0_0 of a new state directory.
func newLoggedTask(t *testing.T, c *kafkatest.Cluster, spec state.Spec) (*StateDir, *TaskDir, state.Store, TopicPartition) {
	t.Helper()
	appID := c.Topic("app")
	tp := TopicPartition{ChangelogTopic(appID, spec.Name), 0}
	createChangelog(c, tp.Topic, 1, spec)
	sd, err := OpenStateDir(t.TempDir(), appID, WithLogger(quietLogger()))
	if err != nil {
		t.Fatal(err)
	}
	td, err := sd.LockTask("0_0")
	if err != nil {
		t.Fatal(err)
	}
	st, _, err := OpenStore(td, spec, StoreOptions{Changelog: tp})
	if err != nil {
		t.Fatal(err)
	}
	return sd, td, st, tp
}

// restoreFromScratch deletes the task's local state, reopens the store
// with OpenStore and restores it from the changelog.
func restoreFromScratch(t *testing.T, c *kafkatest.Cluster, sd *StateDir, spec state.Spec, tp TopicPartition) (state.Store, *TaskDir, Result) {
	t.Helper()
	if err := sd.RemoveTask("0_0"); err != nil {
		t.Fatal(err)
	}
	td, err := sd.LockTask("0_0")
	if err != nil {
		t.Fatal(err)
	}
	st, trusted, err := OpenStore(td, spec, StoreOptions{Changelog: tp})
	if err != nil {
		t.Fatal(err)
	}
	if trusted {
		t.Fatal("store trusted after its directory was deleted")
	}
	r := newRestorer(t, c, RestorerConfig{BatchSize: 300})
	res, err := r.Restore(ctxT(t), Job{Store: mustRestorable(t, st), Partition: tp})
	if err != nil {
		t.Fatal(err)
	}
	return st, td, res
}

func TestRestoreWindowStore(t *testing.T) {
	c := kafkatest.New(t, 1)
	for _, engine := range []state.Engine{state.RocksDB, state.Pebble, state.InMemory} {
		for _, tc := range []struct {
			dups, expiring bool
		}{{false, false}, {true, false}, {false, true}, {true, true}} {
			dups := tc.dups
			// expiring: stream time moves through many 5-minute segments
			// of a 10-minute retention, so that restore batches span
			// segment boundaries and expire windows and segments midway.
			retention := time.Hour
			if tc.expiring {
				retention = 10 * time.Minute
			}
			t.Run(fmt.Sprintf("%s/dups=%v/expiring=%v", engine.String(), dups, tc.expiring), func(t *testing.T) {
				spec := state.Spec{Name: "w", Kind: state.KindWindow, Engine: engine,
					Retention: retention, WindowSize: time.Minute, RetainDuplicates: dups}
				sd, td, st, tp := newLoggedTask(t, c, spec)
				sink := newProducerSink(t, c)
				logged := NewLoggingWindowStore(st.(state.WindowStore), dups, tp.Topic, 0, sink, nil)
				const base = int64(1_700_000_000_000)
				for i := 0; i < 2000; i++ {
					key := []byte(fmt.Sprintf("k%02d", i%50))
					start := base + int64(i%30)*60_000
					if tc.expiring {
						start = base + int64(i/10-i%3)*60_000
					}
					var value []byte
					if i%7 != 0 {
						value = []byte(fmt.Sprintf("v%d", i))
					}
					if err := logged.Put(key, value, start); err != nil {
						t.Fatal(err)
					}
				}
				sent := sink.flush(t)
				want := dumpWindows(t, st.(state.WindowStore))
				if len(want) == 0 {
					t.Fatal("nothing written")
				}
				st.Close()
				td.Close()

				restored, td, res := restoreFromScratch(t, c, sd, spec, tp)
				defer td.Close()
				defer restored.Close()
				if res.Next != int64(sent) {
					t.Errorf("restore = %+v, want next %d", res, sent)
				}
				compareDumps(t, "windows", dumpWindows(t, restored.(state.WindowStore)), want)
			})
		}
	}
}

func TestRestoreSessionStore(t *testing.T) {
	c := kafkatest.New(t, 1)
	for _, engine := range []state.Engine{state.RocksDB, state.Pebble, state.InMemory} {
		t.Run(engine.String(), func(t *testing.T) {
			spec := state.Spec{Name: "sessions", Kind: state.KindSession, Engine: engine, Retention: time.Hour}
			sd, td, st, tp := newLoggedTask(t, c, spec)
			sink := newProducerSink(t, c)
			logged := NewLoggingSessionStore(st.(state.SessionStore), tp.Topic, 0, sink, nil)
			const base = int64(1_700_000_000_000)
			var keys []string
			for k := 0; k < 40; k++ {
				keys = append(keys, fmt.Sprintf("user-%02d", k))
			}
			for i := 0; i < 1500; i++ {
				key := []byte(keys[i%len(keys)])
				start := base + int64(i/len(keys))*10_000
				end := start + int64(i%5)*1000
				if err := logged.Put(key, start, end, []byte(fmt.Sprintf("n%d", i))); err != nil {
					t.Fatal(err)
				}
				if i%9 == 0 { // a merged session replaces this one
					if err := logged.Remove(key, start, end); err != nil {
						t.Fatal(err)
					}
				}
			}
			sent := sink.flush(t)
			want := dumpSessions(t, st.(state.SessionStore), keys)
			if len(want) == 0 {
				t.Fatal("nothing written")
			}
			st.Close()
			td.Close()

			restored, td, res := restoreFromScratch(t, c, sd, spec, tp)
			defer td.Close()
			defer restored.Close()
			if res.Next != int64(sent) || res.Restored == 0 {
				t.Errorf("restore = %+v, want next %d", res, sent)
			}
			compareDumps(t, "sessions", dumpSessions(t, restored.(state.SessionStore), keys), want)
		})
	}
}
