package statetest

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand"
	"sort"
	"testing"

	"github.com/kafki/kafki/state"
)

// KVEngine opens key-value stores of one engine (or stack) for the
// contract: Open(t, dir) opens the store kept in dir, and a persistent
// engine opens the same data again from the same dir.
type KVEngine struct {
	Name       string
	Persistent bool
	Open       func(t testing.TB, dir string) state.KeyValueStore
}

// checkClosed closes s at the end of the test and fails the test when
// iterators were left open.
func checkClosed(t testing.TB, s state.Store) {
	t.Helper()
	t.Cleanup(func() {
		if c, ok := s.(state.IteratorCounter); ok && c.OpenIterators() != 0 {
			t.Errorf("%d iterators left open", c.OpenIterators())
		}
		if err := s.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
}

func b(s string) []byte { return []byte(s) }

// col(t)(store.Range(...)) drains and closes an iterator.
func col(t testing.TB) func(state.KeyValueIterator, error) []string {
	return func(it state.KeyValueIterator, err error) []string { return collectKV(t, it, err) }
}

func collectKV(t testing.TB, it state.KeyValueIterator, err error) []string {
	t.Helper()
	if err != nil {
		t.Fatalf("iterator: %v", err)
	}
	defer it.Close()
	var out []string
	for it.Next() {
		out = append(out, string(it.Key())+"="+string(it.Value()))
	}
	if err := it.Err(); err != nil {
		t.Fatalf("iterator err: %v", err)
	}
	return out
}

func eq(t testing.TB, got, want []string) {
	t.Helper()
	if len(got) == 0 && len(want) == 0 {
		return
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("got  %q\nwant %q", got, want)
	}
}

// KeyValueContract runs the key-value store contract on e: every engine and every
// store stack must pass it.
func KeyValueContract(t *testing.T, e KVEngine) {
	fresh := func(t *testing.T) state.KeyValueStore {
		s := e.Open(t, t.TempDir())
		checkClosed(t, s)
		return s
	}
	t.Run("GetPutDelete", func(t *testing.T) {
		s := fresh(t)
		if v, err := s.Get(b("a")); err != nil || v != nil {
			t.Fatalf("get missing: %q %v", v, err)
		}
		must(t, s.Put(b("a"), b("1")))
		must(t, s.Put(b("b"), b("2")))
		must(t, s.Put(b("a"), b("3")))
		getEq(t, s, "a", "3")
		getEq(t, s, "b", "2")
		old, err := s.Delete(b("a"))
		must(t, err)
		if string(old) != "3" {
			t.Fatalf("delete returned %q", old)
		}
		if v, _ := s.Get(b("a")); v != nil {
			t.Fatalf("deleted key still there: %q", v)
		}
		old, err = s.Delete(b("zz"))
		must(t, err)
		if old != nil {
			t.Fatalf("delete of missing key returned %q", old)
		}
		must(t, s.Put(b("b"), nil)) // nil value deletes
		if v, _ := s.Get(b("b")); v != nil {
			t.Fatalf("put nil did not delete: %q", v)
		}
	})
	t.Run("EmptyValueIsNotAbsent", func(t *testing.T) {
		s := fresh(t)
		must(t, s.Put(b("k"), []byte{}))
		v, err := s.Get(b("k"))
		must(t, err)
		if v == nil || len(v) != 0 {
			t.Fatalf("empty value read back as %#v", v)
		}
	})
	t.Run("CallerBuffersAreCopied", func(t *testing.T) {
		s := fresh(t)
		k, v := b("key"), b("val")
		must(t, s.Put(k, v))
		k[0], v[0] = 'X', 'X'
		getEq(t, s, "key", "val")
	})
	t.Run("PutIfAbsent", func(t *testing.T) {
		s := fresh(t)
		old, err := s.PutIfAbsent(b("a"), b("1"))
		must(t, err)
		if old != nil {
			t.Fatalf("first putIfAbsent returned %q", old)
		}
		old, err = s.PutIfAbsent(b("a"), b("2"))
		must(t, err)
		if string(old) != "1" {
			t.Fatalf("second putIfAbsent returned %q", old)
		}
		getEq(t, s, "a", "1")
	})
	t.Run("PutAll", func(t *testing.T) {
		s := fresh(t)
		must(t, s.Put(b("gone"), b("x")))
		must(t, s.PutAll([]state.KeyValue{{Key: b("a"), Value: b("1")}, {Key: b("b"), Value: b("2")}, {Key: b("a"), Value: b("3")}, {Key: b("gone"), Value: nil}}))
		eq(t, col(t)(s.All()), []string{"a=3", "b=2"})
	})
	t.Run("Ranges", func(t *testing.T) {
		s := fresh(t)
		for _, k := range []string{"a", "aa", "ab", "b", "ba", "c", "\x00", "\xff", "\xff\xff"} {
			must(t, s.Put(b(k), b(k)))
		}
		kv := func(ks ...string) []string {
			out := make([]string, len(ks))
			for i, k := range ks {
				out[i] = k + "=" + k
			}
			return out
		}
		eq(t, col(t)(s.Range(b("aa"), b("b"))), kv("aa", "ab", "b"))
		eq(t, col(t)(s.ReverseRange(b("aa"), b("b"))), kv("b", "ab", "aa"))
		eq(t, col(t)(s.Range(nil, b("a"))), kv("\x00", "a"))
		eq(t, col(t)(s.Range(b("c"), nil)), kv("c", "\xff", "\xff\xff"))
		eq(t, col(t)(s.ReverseRange(nil, b("a"))), kv("a", "\x00"))
		eq(t, col(t)(s.ReverseRange(b("c"), nil)), kv("\xff\xff", "\xff", "c"))
		eq(t, col(t)(s.Range(b("b"), b("a"))), nil) // from > to: empty
		eq(t, col(t)(s.ReverseRange(b("b"), b("a"))), nil)
		eq(t, col(t)(s.Range(b("ab"), b("ab"))), kv("ab"))
		eq(t, col(t)(s.Range(b("abc"), b("az"))), nil)
		eq(t, col(t)(s.PrefixScan(b("a"))), kv("a", "aa", "ab"))
		eq(t, col(t)(s.PrefixScan(b("\xff"))), kv("\xff", "\xff\xff"))
		eq(t, col(t)(s.PrefixScan(b("q"))), nil)
		eq(t, col(t)(s.PrefixScan(nil)), kv("\x00", "a", "aa", "ab", "b", "ba", "c", "\xff", "\xff\xff"))
		eq(t, col(t)(s.All()), kv("\x00", "a", "aa", "ab", "b", "ba", "c", "\xff", "\xff\xff"))
		eq(t, col(t)(s.ReverseAll()), kv("\xff\xff", "\xff", "c", "ba", "b", "ab", "aa", "a", "\x00"))
		n, err := s.ApproximateNumEntries()
		must(t, err)
		if n < 1 || n > 20 {
			t.Fatalf("approximate count %d for 9 entries", n)
		}
	})
	t.Run("RandomAgainstSortedMap", func(t *testing.T) {
		s := fresh(t)
		rnd := rand.New(rand.NewSource(1))
		model := map[string]string{}
		key := func() []byte {
			k := make([]byte, rnd.Intn(4))
			for i := range k {
				k[i] = "\x00a\xffb"[rnd.Intn(4)]
			}
			return k
		}
		for i := 0; i < 3000; i++ {
			k := key()
			switch rnd.Intn(5) {
			case 0:
				_, err := s.Delete(k)
				must(t, err)
				delete(model, string(k))
			case 1:
				entries := []state.KeyValue{{Key: k, Value: b(fmt.Sprint(i))}, {Key: key(), Value: nil}}
				must(t, s.PutAll(entries))
				model[string(k)] = fmt.Sprint(i)
				delete(model, string(entries[1].Key))
			default:
				must(t, s.Put(k, b(fmt.Sprint(i))))
				model[string(k)] = fmt.Sprint(i)
			}
			if i%100 == 0 {
				from, to := key(), key()
				if rnd.Intn(4) == 0 {
					from = nil
				}
				if rnd.Intn(4) == 0 {
					to = nil
				}
				want := modelRange(model, from, to)
				eq(t, col(t)(s.Range(from, to)), want)
				eq(t, col(t)(s.ReverseRange(from, to)), reversed(want))
			}
		}
		eq(t, col(t)(s.All()), modelRange(model, nil, nil))
		for k, v := range model {
			getEq(t, s, k, v)
		}
	})
	t.Run("LargeIteration", func(t *testing.T) {
		s := fresh(t)
		var batch []state.KeyValue
		for i := 0; i < 5000; i++ {
			batch = append(batch, state.KeyValue{Key: b(fmt.Sprintf("k%06d", i)), Value: b(fmt.Sprint(i))})
		}
		must(t, s.PutAll(batch))
		got := col(t)(s.All())
		if len(got) != 5000 || got[0] != "k000000=0" || got[4999] != "k004999=4999" {
			t.Fatalf("iterated %d entries", len(got))
		}
		got = col(t)(s.ReverseRange(b("k001000"), b("k003999")))
		if len(got) != 3000 || got[0] != "k003999=3999" || got[2999] != "k001000=1000" {
			t.Fatalf("reverse range: %d entries", len(got))
		}
	})
	t.Run("WritesDuringIteration", func(t *testing.T) {
		s := fresh(t)
		for i := 0; i < 100; i++ {
			must(t, s.Put(b(fmt.Sprintf("k%03d", i)), b("v")))
		}
		it, err := s.All()
		must(t, err)
		n := 0
		for it.Next() {
			k := append([]byte(nil), it.Key()...)
			must(t, s.Put(k, b("w"))) // overwrite while iterating
			_, err := s.Delete(k)
			must(t, err)
			n++
		}
		must(t, it.Err())
		must(t, it.Close())
		if n != 100 {
			t.Fatalf("iterated %d of 100", n)
		}
		eq(t, col(t)(s.All()), nil)
	})
	t.Run("IteratorLeakIsReported", func(t *testing.T) {
		s := e.Open(t, t.TempDir())
		must(t, s.Put(b("a"), b("1")))
		it, err := s.All()
		must(t, err)
		it2, err := s.Range(b("a"), b("b"))
		must(t, err)
		if n := s.(state.IteratorCounter).OpenIterators(); n != 2 {
			t.Fatalf("open iterators = %d, want 2", n)
		}
		must(t, it2.Close())
		must(t, it2.Close()) // idempotent
		err = s.Close()
		if !errors.Is(err, state.ErrOpenIterators) {
			t.Fatalf("close with open iterator returned %v", err)
		}
		var oe *state.OpenIteratorsError
		if !errors.As(err, &oe) || oe.Count != 1 {
			t.Fatalf("close error %v", err)
		}
		if it.Next() {
			t.Fatalf("iterator of a closed store still moves")
		}
		_ = it.Close()
		if _, err := s.Get(b("a")); !errors.Is(err, state.ErrClosed) {
			t.Fatalf("get after close: %v", err)
		}
	})
	if e.Persistent {
		t.Run("Reopen", func(t *testing.T) {
			dir := t.TempDir()
			s := e.Open(t, dir)
			must(t, s.Put(b("a"), b("1")))
			must(t, s.Put(b("b"), b("2")))
			must(t, s.Flush())
			must(t, s.Close())
			s = e.Open(t, dir)
			checkClosed(t, s)
			eq(t, col(t)(s.All()), []string{"a=1", "b=2"})
			if !s.Persistent() {
				t.Fatalf("not persistent")
			}
		})
	}
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func getEq(t testing.TB, s state.KeyValueStore, k, want string) {
	t.Helper()
	v, err := s.Get(b(k))
	must(t, err)
	if !bytes.Equal(v, b(want)) {
		t.Fatalf("get %q = %q, want %q", k, v, want)
	}
}

func modelRange(m map[string]string, from, to []byte) []string {
	var keys []string
	for k := range m {
		if from != nil && k < string(from) {
			continue
		}
		if to != nil && k > string(to) {
			continue
		}
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([]string, len(keys))
	for i, k := range keys {
		out[i] = k + "=" + m[k]
	}
	return out
}

func reversed(s []string) []string {
	out := make([]string, len(s))
	for i := range s {
		out[len(s)-1-i] = s[i]
	}
	return out
}
