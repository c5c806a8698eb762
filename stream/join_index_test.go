package stream_test

import (
	"fmt"
	"math/rand"
	"strings"
	"testing"
	"time"

	"github.com/kafki/kafki/serde"
	"github.com/kafki/kafki/state"
	"github.com/kafki/kafki/state/pebble"
	"github.com/kafki/kafki/stream"
	"github.com/kafki/kafki/topology"
	"github.com/kafki/kafki/topology/topologytest"
)

// The stream-stream join answers its window-store probes and its outer
// store's reads from memory when it can (join_index.go). These tests run
// the same input through the join with those copies, with tiny budgets
// (they are dropped and rebuilt as the run goes) and with none (every read
// goes to the stores), and require the same output: keys, values,
// timestamps and order.

// joinStores opens in-memory stores, keeps them across drivers (a task
// restarted with its stores restored) and counts the reads that the
// in-memory copies should spare.
type joinStores struct {
	stores  map[string]state.Store
	fetches int // window-store probes
	scans   int // outer-store scans
}

type countingWindow struct {
	state.WindowStore
	c *joinStores
}

func (w countingWindow) FetchRange(k []byte, from, to int64) (state.WindowIterator, error) {
	w.c.fetches++
	return w.WindowStore.FetchRange(k, from, to)
}
func (w countingWindow) Unwrap() state.Store { return w.WindowStore }
func (countingWindow) Close() error          { return nil }

type countingKV struct {
	state.KeyValueStore
	c *joinStores
}

func (s countingKV) All() (state.KeyValueIterator, error) {
	s.c.scans++
	return s.KeyValueStore.All()
}

func (s countingKV) Range(from, to []byte) (state.KeyValueIterator, error) {
	s.c.scans++
	return s.KeyValueStore.Range(from, to)
}
func (s countingKV) Unwrap() state.Store { return s.KeyValueStore }
func (countingKV) Close() error          { return nil }

func (c *joinStores) open(spec state.Spec) (state.Store, error) {
	if s, ok := c.stores[spec.Name]; ok {
		return s, nil
	}
	s, err := openStores(spec)
	if err != nil {
		return nil, err
	}
	switch x := s.(type) {
	case state.WindowStore:
		s = countingWindow{x, c}
	case state.KeyValueStore:
		s = countingKV{x, c}
	}
	c.stores[spec.Name] = s
	return s, nil
}

type joinStep struct {
	right bool
	key   string
	value string // "": null value
	ts    int64
}

// joinSteps draws n records of a few keys on both sides, with timestamps
// that advance by up to step ms and come out of order by up to disorder ms.
func joinSteps(seed int64, n int, step, disorder int64) []joinStep {
	rnd := rand.New(rand.NewSource(seed))
	var out []joinStep
	t := int64(0)
	for i := range n {
		t += rnd.Int63n(step + 1)
		s := joinStep{right: rnd.Intn(2) == 1, key: fmt.Sprintf("k%d", rnd.Intn(5)), ts: t}
		if rnd.Intn(3) == 0 {
			s.ts = max(0, t-rnd.Int63n(disorder+1))
		}
		if rnd.Intn(20) != 0 {
			s.value = fmt.Sprintf("L%d", i)
			if s.right {
				s.value = fmt.Sprintf("R%d", i)
			}
		}
		out = append(out, s)
	}
	return out
}

var joinKinds = map[string]func(l, r stream.KStream[string, string], w stream.JoinWindows) stream.KStream[string, string]{
	"inner": func(l, r stream.KStream[string, string], w stream.JoinWindows) stream.KStream[string, string] {
		return stream.Join(l, r, func(a, b string) string { return a + "-" + b }, w)
	},
	"left": func(l, r stream.KStream[string, string], w stream.JoinWindows) stream.KStream[string, string] {
		return stream.LeftJoin(l, r, func(a string, b *string) string { return a + "-" + orNull(b) }, w)
	},
	"outer": func(l, r stream.KStream[string, string], w stream.JoinWindows) stream.KStream[string, string] {
		return stream.OuterJoin(l, r, func(a, b *string) string { return orNull(a) + "-" + orNull(b) }, w)
	},
}

// runJoin pipes steps through a join, restarting the task (same stores)
// before step restartAt when it is in range, and returns what it emitted.
func runJoin(t *testing.T, kind string, w stream.JoinWindows, steps []joinStep, restartAt int) (string, *joinStores) {
	t.Helper()
	stores := &joinStores{stores: map[string]state.Store{}}
	return runJoinWith(t, kind, w, steps, restartAt, stores.open), stores
}

func runJoinWith(t *testing.T, kind string, w stream.JoinWindows, steps []joinStep, restartAt int, open topology.StoreOpener) string {
	t.Helper()
	var out []string
	run := func(steps []joinStep) {
		b := stream.NewBuilder()
		l := stream.Stream(b, "left", stream.ConsumedWith(serde.String(), serde.String()))
		r := stream.Stream(b, "right", stream.ConsumedWith(serde.String(), serde.String()))
		joinKinds[kind](l, r, w).To("out")
		topo, err := b.Build()
		if err != nil {
			t.Fatal(err)
		}
		d, err := topologytest.New(topo, topologytest.StoreOpener(open))
		if err != nil {
			t.Fatal(err)
		}
		left := topologytest.CreateInputTopic(d, "left", serde.String(), serde.String())
		right := topologytest.CreateInputTopic(d, "right", serde.String(), serde.String())
		o := topologytest.CreateOutputTopic(d, "out", serde.String(), serde.String())
		for _, s := range steps {
			in := left
			if s.right {
				in = right
			}
			rec := topology.Record[string, string]{Key: s.key, Value: s.value, NullValue: s.value == "", Timestamp: time.UnixMilli(s.ts)}
			if err := in.PipeRecord(rec); err != nil {
				t.Fatal(err)
			}
		}
		out = append(out, readAll(t, o))
		if err := d.Close(); err != nil {
			t.Fatal(err)
		}
	}
	if restartAt > 0 && restartAt < len(steps) {
		run(steps[:restartAt])
		run(steps[restartAt:])
	} else {
		run(steps)
	}
	return strings.Join(out, " | ")
}

func TestStreamStreamJoinFromMemoryMatchesStores(t *testing.T) {
	windows := map[string]stream.JoinWindows{
		"symmetric":          stream.JoinTimeDifference(10*ms, 0),
		"grace":              stream.JoinTimeDifference(10*ms, 6*ms),
		"negative-before":    {Before: -3 * ms, After: 12 * ms, Grace: 4 * ms},
		"negative-before-2":  {Before: -8 * ms, After: 20 * ms},
		"after-only":         {Before: 0, After: 15 * ms, Grace: 2 * ms},
		"negative-after":     {Before: 9 * ms, After: -2 * ms},
		"equal-times-window": {},
	}
	for kind := range joinKinds {
		for wname, w := range windows {
			t.Run(kind+"/"+wname, func(t *testing.T) {
				steps := joinSteps(int64(len(kind)*7+len(wname)), 400, 3, 12)
				defer stream.SetJoinBudgets(0, 0)()
				want, viaStores := runJoin(t, kind, w, steps, 0)
				if viaStores.fetches == 0 {
					t.Fatal("without budgets the join did not probe its stores")
				}
				restore := stream.SetJoinBudgets(8<<20, 4<<20)
				got, fast := runJoin(t, kind, w, steps, 0)
				restore()
				if got != want {
					t.Errorf("from memory:\n got %s\nwant %s", got, want)
				}
				if fast.fetches != 0 || fast.scans > 1 {
					t.Errorf("from memory: %d probes and %d scans reached the stores, want none and at most the first scan", fast.fetches, fast.scans)
				}
				// Budgets of a few records: the copies are dropped and
				// rebuilt all along, and the reads move between them and
				// the stores.
				restore = stream.SetJoinBudgets(600, 300)
				got, _ = runJoin(t, kind, w, steps, 0)
				restore()
				if got != want {
					t.Errorf("with small budgets:\n got %s\nwant %s", got, want)
				}
			})
		}
	}
}

// After a restart the stores hold records the in-memory copies have not
// seen: the probes that may reach them read the stores until stream time
// has moved past them (a segment interval, one minute here), and the outer
// store's keys are read once at start.
func TestStreamStreamJoinFromMemoryAfterRestart(t *testing.T) {
	w := stream.JoinTimeDifference(time.Second, 300*ms)
	// 1,200 records about 200 ms apart: the restart comes after 50 s, the
	// copies answer from about 110 s, the run ends near 240 s.
	steps := joinSteps(42, 1200, 400, 1500)
	for kind := range joinKinds {
		t.Run(kind, func(t *testing.T) {
			restore := stream.SetJoinBudgets(0, 0)
			want, _ := runJoin(t, kind, w, steps, 250)
			restore()
			got, fast := runJoin(t, kind, w, steps, 250)
			if got != want {
				t.Errorf("from memory:\n got %s\nwant %s", got, want)
			}
			if fast.fetches == 0 || fast.fetches > 500 {
				t.Errorf("%d probes reached the stores after the restart, want some, until a segment interval has passed", fast.fetches)
			}
		})
	}
}

// Reopened from disk, a segmented store knows only the start of its newest
// segment, not the latest record in it: the copies must not answer for the
// rest of that segment either.
func TestStreamStreamJoinFromMemoryAfterReopenFromDisk(t *testing.T) {
	// 200 records about 750 ms apart, restarted after 45 s: the copies
	// answer from about 105 s on. Pebble flushes to disk after every
	// record in the test driver, so the run is kept short.
	w := stream.JoinTimeDifference(5*time.Second, 500*ms)
	steps := joinSteps(43, 200, 1500, 2500)
	pebbleStores := func(dir string) topology.StoreOpener {
		return func(spec state.Spec) (state.Store, error) { return pebble.Open(spec, dir+"/"+spec.Name) }
	}
	restore := stream.SetJoinBudgets(0, 0)
	want := runJoinWith(t, "outer", w, steps, 60, pebbleStores(t.TempDir()))
	restore()
	got := runJoinWith(t, "outer", w, steps, 60, pebbleStores(t.TempDir()))
	if got != want {
		t.Errorf("from memory:\n got %s\nwant %s", got, want)
	}
}
