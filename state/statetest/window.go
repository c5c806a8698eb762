package statetest

import (
	"errors"
	"fmt"
	"math/rand"
	"os"
	"sort"
	"testing"
	"time"

	"github.com/kafki/kafki/serde"
	"github.com/kafki/kafki/state"
)

// SegEngine opens window and session stores of one engine (or stack) in
// dir; a persistent engine opens the same data again from the same dir.
// NoDups marks stacks that cannot retain duplicates (the record cache,
// which stream-stream joins do not use). Session may be nil.
type SegEngine struct {
	Name       string
	Persistent bool
	NoDups     bool
	Window     func(t testing.TB, dir string, retention, interval time.Duration, dup bool) state.WindowStore
	Session    func(t testing.TB, dir string, retention, interval time.Duration) state.SessionStore
}

// discardSink is a changelog sink that drops what it is sent.
type discardSink struct{}

func (discardSink) Send(string, int32, []byte, []byte, []serde.Header, int64) error { return nil }

// loggedStack is the stack the runtime builds (state.BuildStore): the
// record cache of size bytes over the changelog-logging layer over the
// engine store, with a record context as a task has.
func loggedStack(t testing.TB, kind state.Kind, engine state.Store, r time.Duration, size int64) state.Store {
	st, err := state.BuildStore(state.Spec{Name: engine.Name(), Kind: kind, Caching: true, Retention: r}, engine,
		state.StackConfig{Changelog: state.Changelog{Topic: "app-" + engine.Name() + "-changelog", Sink: discardSink{}},
			RecordContext: &state.RecordContext{Timestamp: 1}, CacheMaxBytes: size})
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// WithCaches returns base and base behind the record cache: one large
// cache and one small enough to evict all the time, directly over the
// engine, and the small one over the changelog-logging layer, as
// state.BuildStore stacks them.
func WithCaches(base SegEngine) []SegEngine {
	out := []SegEngine{base}
	logged := SegEngine{
		Name:       "cache500-logged-" + base.Name,
		Persistent: base.Persistent,
		NoDups:     true,
		Window: func(t testing.TB, dir string, r, i time.Duration, dup bool) state.WindowStore {
			return loggedStack(t, state.KindWindow, base.Window(t, dir, r, i, dup), r, 500).(state.WindowStore)
		},
	}
	if base.Session != nil {
		logged.Session = func(t testing.TB, dir string, r, i time.Duration) state.SessionStore {
			return loggedStack(t, state.KindSession, base.Session(t, dir, r, i), r, 500).(state.SessionStore)
		}
	}
	for _, size := range []int64{1 << 20, 500} {
		size := size
		e := SegEngine{
			Name:       fmt.Sprintf("cache%d-%s", size, base.Name),
			Persistent: base.Persistent,
			NoDups:     true,
			Window: func(t testing.TB, dir string, r, i time.Duration, dup bool) state.WindowStore {
				return state.NewCachingWindowStore(base.Window(t, dir, r, i, dup), r, size)
			},
		}
		if base.Session != nil {
			e.Session = func(t testing.TB, dir string, r, i time.Duration) state.SessionStore {
				return state.NewCachingSessionStore(base.Session(t, dir, r, i), r, size)
			}
		}
		out = append(out, e)
	}
	return append(out, logged)
}

// KVWithCaches returns base and base behind record caches: large enough
// to hold everything, small enough to evict all the time, and of size 0.
func KVWithCaches(base KVEngine) []KVEngine {
	out := []KVEngine{base}
	for _, size := range []int64{1 << 20, 600, 0} {
		size := size
		out = append(out, KVEngine{
			Name:       fmt.Sprintf("cache%d-%s", size, base.Name),
			Persistent: base.Persistent,
			Open: func(t testing.TB, dir string) state.KeyValueStore {
				return state.NewCachingKeyValueStore(base.Open(t, dir), size)
			},
		})
	}
	return out
}

const ms = time.Millisecond

func colW(t testing.TB) func(state.WindowIterator, error) []string {
	return func(it state.WindowIterator, err error) []string {
		t.Helper()
		must(t, err)
		defer it.Close()
		var out []string
		for it.Next() {
			out = append(out, fmt.Sprintf("%s@%d=%s", it.Key(), it.WindowStart(), it.Value()))
		}
		must(t, it.Err())
		return out
	}
}

// WindowContract runs the window store contract on e.
func WindowContract(t *testing.T, e SegEngine) {
	fresh := func(t *testing.T, r, i time.Duration, dup bool) state.WindowStore {
		s := e.Window(t, t.TempDir(), r, i, dup)
		checkClosed(t, s)
		return s
	}
	t.Run("PutFetch", func(t *testing.T) {
		s := fresh(t, time.Hour, time.Minute, false)
		must(t, s.Put(b("k"), b("1"), 1000))
		must(t, s.Put(b("k"), b("2"), 2000))
		must(t, s.Put(b("k"), b("3"), 1000)) // overwrite
		v, err := s.Fetch(b("k"), 1000)
		must(t, err)
		if string(v) != "3" {
			t.Fatalf("fetch = %q", v)
		}
		if v, _ := s.Fetch(b("k"), 1500); v != nil {
			t.Fatalf("fetch of missing window = %q", v)
		}
		if v, _ := s.Fetch(b("other"), 1000); v != nil {
			t.Fatalf("fetch of missing key = %q", v)
		}
		must(t, s.Put(b("k"), nil, 2000))
		if v, _ := s.Fetch(b("k"), 2000); v != nil {
			t.Fatalf("deleted window = %q", v)
		}
		must(t, s.Put(b("k"), nil, 999_999)) // delete of a window never put
		eq(t, colW(t)(s.All()), []string{"k@1000=3"})
	})
	t.Run("FetchRangeAcrossSegments", func(t *testing.T) {
		s := fresh(t, time.Hour, 10*ms, false)
		for ts := int64(0); ts < 100; ts += 7 {
			must(t, s.Put(b("k"), b(fmt.Sprint(ts)), ts))
			must(t, s.Put(b("j"), b("x"), ts))
			must(t, s.Put(b("ka"), b("y"), ts))
		}
		eq(t, colW(t)(s.FetchRange(b("k"), 14, 35)), []string{"k@14=14", "k@21=21", "k@28=28", "k@35=35"})
		eq(t, colW(t)(s.BackwardFetchRange(b("k"), 14, 35)), []string{"k@35=35", "k@28=28", "k@21=21", "k@14=14"})
		eq(t, colW(t)(s.FetchRange(b("k"), 15, 20)), nil)
		eq(t, colW(t)(s.FetchRange(b("k"), 35, 14)), nil)
		eq(t, colW(t)(s.FetchRange(b("zz"), 0, 100)), nil)
		all := colW(t)(s.FetchRange(b("k"), minTime, maxTime))
		if len(all) != 15 || all[0] != "k@0=0" || all[14] != "k@98=98" {
			t.Fatalf("full range: %q", all)
		}
	})
	t.Run("KeyOrderWithDifferentLengths", func(t *testing.T) {
		s := fresh(t, time.Hour, 10*ms, false)
		keys := []string{"ab", "a", "a\x00", "\x00", "b", "a\xff", "aa"}
		times := []int64{25, -5, 0, 13, 99, -1000}
		for _, k := range keys {
			for _, ts := range times {
				must(t, s.Put(b(k), b("v"), ts))
			}
		}
		var want []string
		sorted := append([]string(nil), keys...)
		sort.Strings(sorted)
		sortedTimes := append([]int64(nil), times...)
		sort.Slice(sortedTimes, func(i, j int) bool { return sortedTimes[i] < sortedTimes[j] })
		for _, k := range sorted {
			for _, ts := range sortedTimes {
				want = append(want, fmt.Sprintf("%s@%d=v", k, ts))
			}
		}
		eq(t, colW(t)(s.All()), want)
		eq(t, colW(t)(s.FetchKeyRange(nil, nil, minTime, maxTime)), want)
		// keys a .. aa, times -5 .. 25
		var sub []string
		for _, k := range []string{"a", "a\x00", "aa"} {
			for _, ts := range []int64{-5, 0, 13, 25} {
				sub = append(sub, fmt.Sprintf("%s@%d=v", k, ts))
			}
		}
		eq(t, colW(t)(s.FetchKeyRange(b("a"), b("aa"), -5, 25)), sub)
		eq(t, colW(t)(s.FetchKeyRange(b("b"), b("a"), -5, 25)), nil)
		for _, k := range keys {
			got := colW(t)(s.FetchRange(b(k), minTime, maxTime))
			if len(got) != len(times) {
				t.Fatalf("key %q: %q", k, got)
			}
		}
		// FetchAll: by window start, then key.
		var byTime []string
		for _, ts := range []int64{0, 13} {
			for _, k := range sorted {
				byTime = append(byTime, fmt.Sprintf("%s@%d=v", k, ts))
			}
		}
		eq(t, colW(t)(s.FetchAll(0, 13)), byTime)
	})
	t.Run("Retention", func(t *testing.T) {
		r := 100 * ms
		s := fresh(t, r, 20*ms, false)
		for ts := int64(0); ts <= 300; ts += 10 {
			must(t, s.Put(b("k"), b(fmt.Sprint(ts)), ts))
		}
		// observed = 300: windows at or below 200 are gone.
		got := colW(t)(s.FetchRange(b("k"), 0, 300))
		if len(got) != 10 || got[0] != "k@210=210" {
			t.Fatalf("after retention: %q", got)
		}
		if v, _ := s.Fetch(b("k"), 200); v != nil {
			t.Fatalf("expired window fetched: %q", v)
		}
		must(t, s.Put(b("k"), b("late"), 150)) // expired: dropped
		if v, _ := s.Fetch(b("k"), 150); v != nil {
			t.Fatalf("expired put stored: %q", v)
		}
		if n := s.(state.ExpiredRecordCounter).DroppedExpiredRecords(); n != 1 {
			t.Fatalf("dropped = %d", n)
		}
		eq(t, colW(t)(s.FetchAll(0, 220)), []string{"k@210=210", "k@220=220"})
		if n := len(colW(t)(s.All())); n != 10 {
			t.Fatalf("All after retention: %d", n)
		}
		if nseg := state.SegmentCount(s); nseg > 7 {
			t.Fatalf("%d segments kept for 100ms retention in 20ms segments", nseg)
		}
	})
	// The caching window store is not meant for stores that keep
	// duplicates (stream-stream joins run them uncached): no such case.
	if !e.NoDups {
		t.Run("RetainDuplicates", func(t *testing.T) {
			s := fresh(t, time.Hour, time.Minute, true)
			must(t, s.Put(b("k"), b("1"), 10))
			must(t, s.Put(b("k"), b("2"), 10))
			must(t, s.Put(b("k"), b("0"), 5))
			must(t, s.Put(b("k"), nil, 10)) // ignored
			must(t, s.Put(b("k"), b("3"), 10))
			eq(t, colW(t)(s.FetchRange(b("k"), 0, 100)), []string{"k@5=0", "k@10=1", "k@10=2", "k@10=3"})
			eq(t, colW(t)(s.BackwardFetchRange(b("k"), 0, 100)), []string{"k@10=3", "k@10=2", "k@10=1", "k@5=0"})
			v, err := s.Fetch(b("k"), 10)
			must(t, err)
			if string(v) != "1" {
				t.Fatalf("fetch with duplicates = %q", v)
			}
			eq(t, colW(t)(s.FetchAll(0, 100)), []string{"k@5=0", "k@10=1", "k@10=2", "k@10=3"})
		})
	}
	t.Run("RandomAgainstModel", func(t *testing.T) {
		for _, dup := range []bool{false, true} {
			if dup && e.NoDups {
				continue
			}
			s := fresh(t, 200*ms, 70*ms, dup)
			runWindowModel(t, s, dup, 1, false)
		}
	})
	// Batches (restoration, a cache's flush) must leave what Puts in order
	// leave, across segment boundaries and expiry within a batch, and drop
	// as many writes as expired.
	t.Run("BatchesAgainstModel", func(t *testing.T) {
		for _, dup := range []bool{false, true} {
			if dup && e.NoDups {
				continue
			}
			s := fresh(t, 200*ms, 70*ms, dup)
			if _, ok := s.(state.WindowBatchWriter); !ok {
				t.Skip("no batch writes")
			}
			runWindowModel(t, s, dup, 1, true)
			seq := fresh(t, 200*ms, 70*ms, dup)
			runWindowModel(t, seq, dup, 1, false)
			if a, b := s.(state.ExpiredRecordCounter).DroppedExpiredRecords(), seq.(state.ExpiredRecordCounter).DroppedExpiredRecords(); a != b {
				t.Fatalf("batches dropped %d expired writes, puts %d", a, b)
			}
		}
	})
	t.Run("IteratorLeakIsReported", func(t *testing.T) {
		s := e.Window(t, t.TempDir(), time.Hour, time.Minute, false)
		must(t, s.Put(b("k"), b("v"), 1))
		it, err := s.FetchRange(b("k"), 0, 10)
		must(t, err)
		if !it.Next() {
			t.Fatal("no window")
		}
		if n := s.(state.IteratorCounter).OpenIterators(); n != 1 {
			t.Fatalf("open iterators = %d", n)
		}
		if err := s.Close(); !errors.Is(err, state.ErrOpenIterators) {
			t.Fatalf("close with open iterator: %v", err)
		}
		it.Next()
		it.Close()
	})
	if e.Persistent {
		t.Run("Reopen", func(t *testing.T) {
			dir := t.TempDir()
			s := e.Window(t, dir, 100*ms, 20*ms, false)
			for ts := int64(0); ts <= 300; ts += 10 {
				must(t, s.Put(b("k"), b(fmt.Sprint(ts)), ts))
			}
			must(t, s.Flush())
			before := colW(t)(s.All())
			must(t, s.Close())
			entries, _ := os.ReadDir(dir)
			if len(entries) > 7 {
				t.Fatalf("%d segment directories kept", len(entries))
			}
			s = e.Window(t, dir, 100*ms, 20*ms, false)
			checkClosed(t, s)
			eq(t, colW(t)(s.All()), before)
		})
	}
}

type winModelKey struct {
	key   string
	start int64
}

// runWindowModel puts random windows and checks every fetch against a
// sorted map with the same retention rule.
// With batched, the puts go through PutWindows in batches of random size,
// each written before the store is read.
func runWindowModel(t *testing.T, s state.WindowStore, dup bool, seed int64, batched bool) {
	t.Helper()
	rnd := rand.New(rand.NewSource(seed))
	brnd := rand.New(rand.NewSource(seed + 1))
	var pending []state.WindowKeyValue
	next := 1
	flush := func() {
		if len(pending) > 0 {
			must(t, s.(state.WindowBatchWriter).PutWindows(pending))
			pending, next = nil, 1+brnd.Intn(80)
		}
	}
	defer flush()
	retention := int64(200)
	model := map[winModelKey][]string{}
	observed := int64(minTime)
	live := func(ts int64) bool { return observed == minTime || ts > observed-retention }
	keys := []string{"", "a", "a\x00", "a\x00\x00", "ab", "b", "\xff", "\x00"}
	now := int64(-300)
	for i := 0; i < 1500; i++ {
		now += int64(rnd.Intn(4))
		ts := now - int64(rnd.Intn(260))
		k := keys[rnd.Intn(len(keys))]
		var v []byte
		if rnd.Intn(6) > 0 {
			v = b(fmt.Sprint(i))
		}
		if batched {
			pending = append(pending, state.WindowKeyValue{Key: b(k), Start: ts, Value: v})
			if len(pending) >= next {
				flush()
			}
		} else {
			must(t, s.Put(b(k), v, ts))
		}
		if i%300 == 299 {
			must(t, s.Flush()) // a cache writes its entries below in one batch
		}
		if v == nil && dup {
			continue
		}
		observed = max(observed, ts)
		if !live(ts) {
			continue
		}
		mk := winModelKey{k, ts}
		switch {
		case v == nil:
			delete(model, mk)
		case dup:
			model[mk] = append(model[mk], string(v))
		default:
			model[mk] = []string{string(v)}
		}
		if i%50 != 0 {
			continue
		}
		flush()
		from := now - int64(rnd.Intn(300))
		to := from + int64(rnd.Intn(200))
		var ents []winModelKey
		for mk := range model {
			if live(mk.start) {
				ents = append(ents, mk)
			}
		}
		sort.Slice(ents, func(i, j int) bool {
			if ents[i].key != ents[j].key {
				return ents[i].key < ents[j].key
			}
			return ents[i].start < ents[j].start
		})
		render := func(filter func(winModelKey) bool) []string {
			var out []string
			for _, mk := range ents {
				if filter(mk) {
					for _, v := range model[mk] {
						out = append(out, fmt.Sprintf("%s@%d=%s", mk.key, mk.start, v))
					}
				}
			}
			return out
		}
		inTime := func(mk winModelKey) bool { return mk.start >= from && mk.start <= to }
		eq(t, colW(t)(s.All()), render(func(winModelKey) bool { return true }))
		fk := keys[rnd.Intn(len(keys))]
		want := render(func(mk winModelKey) bool { return mk.key == fk && inTime(mk) })
		eq(t, colW(t)(s.FetchRange(b(fk), from, to)), want)
		eq(t, colW(t)(s.BackwardFetchRange(b(fk), from, to)), reversed(want))
		kf, kt := keys[rnd.Intn(len(keys))], keys[rnd.Intn(len(keys))]
		eq(t, colW(t)(s.FetchKeyRange(b(kf), b(kt), from, to)),
			render(func(mk winModelKey) bool { return mk.key >= kf && mk.key <= kt && inTime(mk) }))
		byTime := append([]winModelKey(nil), ents...)
		sort.SliceStable(byTime, func(i, j int) bool { return byTime[i].start < byTime[j].start })
		ents = byTime
		eq(t, colW(t)(s.FetchAll(from, to)), render(inTime))
		if !dup {
			for mk, vs := range model {
				if !live(mk.start) {
					continue
				}
				got, err := s.Fetch(b(mk.key), mk.start)
				must(t, err)
				if string(got) != vs[0] {
					t.Fatalf("fetch %q@%d = %q, want %q", mk.key, mk.start, got, vs[0])
				}
			}
		}
	}
}
