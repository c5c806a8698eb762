package statetest

import (
	"errors"
	"fmt"
	"math/rand"
	"sort"
	"testing"
	"time"

	"github.com/kafki/kafki/state"
)

func colS(t testing.TB) func(state.SessionIterator, error) []string {
	return func(it state.SessionIterator, err error) []string {
		t.Helper()
		must(t, err)
		defer it.Close()
		var out []string
		for it.Next() {
			out = append(out, fmt.Sprintf("%s[%d,%d]=%s", it.Key(), it.Start(), it.End(), it.Value()))
		}
		must(t, it.Err())
		return out
	}
}

// SessionContract runs the session store contract on e.
func SessionContract(t *testing.T, e SegEngine) {
	fresh := func(t *testing.T, r, i time.Duration) state.SessionStore {
		s := e.Session(t, t.TempDir(), r, i)
		checkClosed(t, s)
		return s
	}
	t.Run("PutFetchRemove", func(t *testing.T) {
		s := fresh(t, time.Hour, time.Minute)
		must(t, s.Put(b("k"), 10, 20, b("a")))
		must(t, s.Put(b("k"), 30, 30, b("b")))
		must(t, s.Put(b("k2"), 10, 20, b("c")))
		v, err := s.FetchSession(b("k"), 10, 20)
		must(t, err)
		if string(v) != "a" {
			t.Fatalf("fetch session = %q", v)
		}
		if v, _ := s.FetchSession(b("k"), 10, 21); v != nil {
			t.Fatalf("missing session = %q", v)
		}
		eq(t, colS(t)(s.Fetch(b("k"))), []string{"k[10,20]=a", "k[30,30]=b"})
		must(t, s.Remove(b("k"), 10, 20))
		must(t, s.Remove(b("k"), 1, 2)) // absent
		eq(t, colS(t)(s.Fetch(b("k"))), []string{"k[30,30]=b"})
		must(t, s.Put(b("k"), 30, 30, nil))
		eq(t, colS(t)(s.Fetch(b("k"))), nil)
		eq(t, colS(t)(s.Fetch(b("k2"))), []string{"k2[10,20]=c"})
	})
	t.Run("FindSessions", func(t *testing.T) {
		s := fresh(t, time.Hour, 10*ms)
		// Sessions of k: [0,5] [10,25] [30,30] [40,60]; others around.
		for _, ss := range [][2]int64{{40, 60}, {0, 5}, {30, 30}, {10, 25}} {
			must(t, s.Put(b("k"), ss[0], ss[1], b("v")))
		}
		must(t, s.Put(b("k\x00"), 10, 25, b("x")))
		must(t, s.Put(b(""), 10, 25, b("x")))
		must(t, s.Put(b("ka"), 10, 25, b("x")))
		// A record at 27 with gap 3 merges with sessions ending >= 24 and
		// starting <= 30.
		eq(t, colS(t)(s.FindSessions(b("k"), 24, 30)), []string{"k[10,25]=v", "k[30,30]=v"})
		eq(t, colS(t)(s.FindSessions(b("k"), 6, 9)), nil)
		eq(t, colS(t)(s.FindSessions(b("k"), 5, 5)), []string{"k[0,5]=v"})
		eq(t, colS(t)(s.FindSessions(b("k"), 0, 100)), []string{"k[0,5]=v", "k[10,25]=v", "k[30,30]=v", "k[40,60]=v"})
		if bs, ok := s.(interface {
			BackwardFindSessions([]byte, int64, int64) (state.SessionIterator, error)
		}); ok {
			eq(t, colS(t)(bs.BackwardFindSessions(b("k"), 0, 100)), []string{"k[40,60]=v", "k[30,30]=v", "k[10,25]=v", "k[0,5]=v"})
		}
		eq(t, colS(t)(s.FindSessions(b("k"), 61, 100)), nil)
		eq(t, colS(t)(s.Fetch(b("k\x00"))), []string{"k\x00[10,25]=x"})
		eq(t, colS(t)(s.Fetch(b(""))), []string{"[10,25]=x"})
	})
	t.Run("Retention", func(t *testing.T) {
		s := fresh(t, 100*ms, 20*ms)
		for end := int64(0); end <= 300; end += 10 {
			must(t, s.Put(b("k"), end-5, end, b(fmt.Sprint(end))))
		}
		got := colS(t)(s.Fetch(b("k")))
		if len(got) != 10 || got[0] != "k[205,210]=210" {
			t.Fatalf("after retention: %q", got)
		}
		if v, _ := s.FetchSession(b("k"), 195, 200); v != nil {
			t.Fatalf("expired session fetched: %q", v)
		}
		must(t, s.Put(b("k"), 100, 150, b("late")))
		if n := s.(state.ExpiredRecordCounter).DroppedExpiredRecords(); n != 1 {
			t.Fatalf("dropped = %d", n)
		}
		eq(t, colS(t)(s.FindSessions(b("k"), 0, 215)), []string{"k[205,210]=210", "k[215,220]=220"})
	})
	t.Run("RandomAgainstModel", func(t *testing.T) {
		s := fresh(t, 200*ms, 70*ms)
		runSessionModel(t, s, 2, false)
	})
	t.Run("BatchesAgainstModel", func(t *testing.T) {
		s := fresh(t, 200*ms, 70*ms)
		if _, ok := s.(state.SessionBatchWriter); !ok {
			t.Skip("no batch writes")
		}
		runSessionModel(t, s, 2, true)
		seq := fresh(t, 200*ms, 70*ms)
		runSessionModel(t, seq, 2, false)
		if a, b := s.(state.ExpiredRecordCounter).DroppedExpiredRecords(), seq.(state.ExpiredRecordCounter).DroppedExpiredRecords(); a != b {
			t.Fatalf("batches dropped %d expired writes, puts %d", a, b)
		}
	})
	t.Run("IteratorLeakIsReported", func(t *testing.T) {
		s := e.Session(t, t.TempDir(), time.Hour, time.Minute)
		must(t, s.Put(b("k"), 1, 2, b("v")))
		it, err := s.Fetch(b("k"))
		must(t, err)
		if err := s.Close(); !errors.Is(err, state.ErrOpenIterators) {
			t.Fatalf("close with open iterator: %v", err)
		}
		it.Next()
		it.Close()
	})
	if e.Persistent {
		t.Run("Reopen", func(t *testing.T) {
			dir := t.TempDir()
			s := e.Session(t, dir, time.Hour, 20*ms)
			for end := int64(0); end <= 100; end += 10 {
				must(t, s.Put(b("k"), end-5, end, b(fmt.Sprint(end))))
			}
			must(t, s.Flush())
			before := colS(t)(s.Fetch(b("k")))
			must(t, s.Close())
			s = e.Session(t, dir, time.Hour, 20*ms)
			checkClosed(t, s)
			eq(t, colS(t)(s.Fetch(b("k"))), before)
		})
	}
}

type sesModelKey struct {
	key        string
	start, end int64
}

// With batched, the puts and removes go through PutSessions in batches of
// random size, each written before the store is read.
func runSessionModel(t *testing.T, s state.SessionStore, seed int64, batched bool) {
	t.Helper()
	rnd := rand.New(rand.NewSource(seed))
	brnd := rand.New(rand.NewSource(seed + 1))
	var pending []state.SessionKeyValue
	next := 1
	flush := func() {
		if len(pending) > 0 {
			must(t, s.(state.SessionBatchWriter).PutSessions(pending))
			pending, next = nil, 1+brnd.Intn(80)
		}
	}
	defer flush()
	write := func(k string, start, end int64, v []byte) {
		if !batched {
			if v == nil {
				must(t, s.Remove(b(k), start, end))
			} else {
				must(t, s.Put(b(k), start, end, v))
			}
			return
		}
		pending = append(pending, state.SessionKeyValue{Key: b(k), Start: start, End: end, Value: v})
		if len(pending) >= next {
			flush()
		}
	}
	retention := int64(200)
	model := map[sesModelKey]string{}
	observed := int64(minTime)
	live := func(end int64) bool { return observed == minTime || end > observed-retention }
	keys := []string{"", "a", "a\x00", "ab", "b", "\x00"}
	now := int64(-100)
	for i := 0; i < 1500; i++ {
		now += int64(rnd.Intn(4))
		end := now - int64(rnd.Intn(250))
		start := end - int64(rnd.Intn(40))
		if i%300 == 299 {
			must(t, s.Flush()) // a cache writes its entries below in one batch
		}
		k := keys[rnd.Intn(len(keys))]
		mk := sesModelKey{k, start, end}
		switch rnd.Intn(6) {
		case 0:
			write(k, start, end, nil)
			delete(model, mk)
		default:
			v := fmt.Sprint(i)
			write(k, start, end, b(v))
			observed = max(observed, end)
			if live(end) {
				model[mk] = v
			}
		}
		if i%50 != 0 {
			continue
		}
		flush()
		fk := keys[rnd.Intn(len(keys))]
		earliestEnd := now - int64(rnd.Intn(300))
		latestStart := earliestEnd + int64(rnd.Intn(100)) - 30
		var want []sesModelKey
		for mk := range model {
			if mk.key == fk && live(mk.end) && mk.end >= earliestEnd && mk.start <= latestStart {
				want = append(want, mk)
			}
		}
		sort.Slice(want, func(i, j int) bool {
			if want[i].end != want[j].end {
				return want[i].end < want[j].end
			}
			return want[i].start < want[j].start
		})
		var ws []string
		for _, mk := range want {
			ws = append(ws, fmt.Sprintf("%s[%d,%d]=%s", mk.key, mk.start, mk.end, model[mk]))
		}
		eq(t, colS(t)(s.FindSessions(b(fk), earliestEnd, latestStart)), ws)
		if to, ok := s.(state.TimeOrderedSessionStore); ok {
			checkByEndModel(t, to, model, live, earliestEnd, earliestEnd+int64(rnd.Intn(200)))
		}
		for mk, v := range model {
			if !live(mk.end) {
				continue
			}
			got, err := s.FetchSession(b(mk.key), mk.start, mk.end)
			must(t, err)
			if string(got) != v {
				t.Fatalf("fetch session %v = %q, want %q", mk, got, v)
			}
		}
	}
}
