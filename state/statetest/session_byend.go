package statetest

import (
	"fmt"
	"sort"
	"testing"
	"time"

	"github.com/kafki/kafki/state"
)

// TimeOrderedSessionContract runs the session store contract on e, whose
// Session opens time-ordered session stores, and then the contract of
// FindSessionsByEnd.
func TimeOrderedSessionContract(t *testing.T, e SegEngine) {
	SessionContract(t, e)
	open := func(t *testing.T, dir string, r, i time.Duration) state.TimeOrderedSessionStore {
		s := e.Session(t, dir, r, i)
		checkClosed(t, s)
		to, ok := s.(state.TimeOrderedSessionStore)
		if !ok {
			t.Fatalf("%s opened a %T, not a time-ordered session store", e.Name, s)
		}
		return to
	}
	t.Run("ByEndOrder", func(t *testing.T) {
		s := open(t, t.TempDir(), time.Hour, 10*ms)
		for _, p := range []struct {
			k          string
			start, end int64
		}{{"b", 5, 20}, {"a", 5, 20}, {"ab", 5, 20}, {"", 5, 20}, {"a\x00", 5, 20}, {"a", 0, 20},
			{"z", 1, 3}, {"a", 25, 25}, {"c", 12, 40}, {"k\x00", 30, 30}} {
			must(t, s.Put(b(p.k), p.start, p.end, b(fmt.Sprint(p.k, p.start))))
		}
		// Ordered by end, then start, then key bytes (a prefix first).
		eq(t, colS(t)(s.FindSessionsByEnd(0, 100)), []string{
			"z[1,3]=z1", "a[0,20]=a0", "[5,20]=5", "a[5,20]=a5", "a\x00[5,20]=a\x005", "ab[5,20]=ab5", "b[5,20]=b5",
			"a[25,25]=a25", "k\x00[30,30]=k\x0030", "c[12,40]=c12"})
		// Both bounds are inclusive.
		eq(t, colS(t)(s.FindSessionsByEnd(20, 25)), []string{
			"a[0,20]=a0", "[5,20]=5", "a[5,20]=a5", "a\x00[5,20]=a\x005", "ab[5,20]=ab5", "b[5,20]=b5", "a[25,25]=a25"})
		eq(t, colS(t)(s.FindSessionsByEnd(21, 24)), nil)
		eq(t, colS(t)(s.FindSessionsByEnd(40, 30)), nil)
		// Removed sessions leave the index; the index never shows in a
		// key's own sessions.
		must(t, s.Remove(b("a"), 5, 20))
		must(t, s.Put(b("b"), 5, 20, nil))
		eq(t, colS(t)(s.FindSessionsByEnd(20, 20)), []string{"a[0,20]=a0", "[5,20]=5", "a\x00[5,20]=a\x005", "ab[5,20]=ab5"})
		eq(t, colS(t)(s.Fetch(b(""))), []string{"[5,20]=5"})
		eq(t, colS(t)(s.FindSessions(b("a"), 0, 100)), []string{"a[0,20]=a0", "a[25,25]=a25"})
		// An update keeps one index entry.
		must(t, s.Put(b("c"), 12, 40, b("c2")))
		eq(t, colS(t)(s.FindSessionsByEnd(26, 1<<40)), []string{"k\x00[30,30]=k\x0030", "c[12,40]=c2"})
	})
	t.Run("ByEndRetention", func(t *testing.T) {
		s := open(t, t.TempDir(), 100*ms, 20*ms)
		for end := int64(0); end <= 300; end += 10 {
			must(t, s.Put(b(fmt.Sprint("k", end%30)), end-5, end, b(fmt.Sprint(end))))
		}
		got := colS(t)(s.FindSessionsByEnd(0, 1000))
		if len(got) != 10 || got[0] != "k0[205,210]=210" || got[9] != "k0[295,300]=300" {
			t.Fatalf("after retention: %q", got)
		}
	})
	if e.Persistent {
		t.Run("ByEndReopen", func(t *testing.T) {
			dir := t.TempDir()
			s := open(t, dir, time.Hour, 20*ms)
			for end := int64(0); end <= 100; end += 10 {
				must(t, s.Put(b(fmt.Sprint("k", end%20)), end-5, end, b(fmt.Sprint(end))))
			}
			must(t, s.Remove(b("k0"), 35, 40))
			must(t, s.Flush())
			before := colS(t)(s.FindSessionsByEnd(0, 100))
			if len(before) != 10 {
				t.Fatalf("before reopen: %q", before)
			}
			must(t, s.Close())
			s = open(t, dir, time.Hour, 20*ms)
			eq(t, colS(t)(s.FindSessionsByEnd(0, 100)), before)
		})
	}
}

// checkByEndModel compares FindSessionsByEnd(lo, hi) with the model.
func checkByEndModel(t *testing.T, s state.TimeOrderedSessionStore, model map[sesModelKey]string, live func(int64) bool, lo, hi int64) {
	t.Helper()
	var want []sesModelKey
	for mk := range model {
		if live(mk.end) && mk.end >= lo && mk.end <= hi {
			want = append(want, mk)
		}
	}
	sort.Slice(want, func(i, j int) bool {
		a, c := want[i], want[j]
		if a.end != c.end {
			return a.end < c.end
		}
		if a.start != c.start {
			return a.start < c.start
		}
		return a.key < c.key
	})
	var ws []string
	for _, mk := range want {
		ws = append(ws, fmt.Sprintf("%s[%d,%d]=%s", mk.key, mk.start, mk.end, model[mk]))
	}
	eq(t, colS(t)(s.FindSessionsByEnd(lo, hi)), ws)
}
