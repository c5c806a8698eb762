package state

import (
	"bytes"
	"fmt"
	"testing"
	"time"
)

// Helpers of this package's tests (the contract suites, in package
// statetest, have their own).

const ms = time.Millisecond

func b(s string) []byte { return []byte(s) }

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
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

// checkClosed closes s at the end of the test and fails the test when
// iterators were left open.
func checkClosed(t testing.TB, s Store) {
	t.Helper()
	t.Cleanup(func() {
		if c, ok := s.(IteratorCounter); ok && c.OpenIterators() != 0 {
			t.Errorf("%d iterators left open", c.OpenIterators())
		}
		if err := s.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
}

// col(t)(store.Range(...)) drains and closes an iterator.
func col(t testing.TB) func(KeyValueIterator, error) []string {
	return func(it KeyValueIterator, err error) []string {
		t.Helper()
		must(t, err)
		defer it.Close()
		var out []string
		for it.Next() {
			out = append(out, string(it.Key())+"="+string(it.Value()))
		}
		must(t, it.Err())
		return out
	}
}

func colW(t testing.TB) func(WindowIterator, error) []string {
	return func(it WindowIterator, err error) []string {
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

func getEq(t testing.TB, s KeyValueStore, k, want string) {
	t.Helper()
	v, err := s.Get(b(k))
	must(t, err)
	if !bytes.Equal(v, b(want)) {
		t.Fatalf("get %q = %q, want %q", k, v, want)
	}
}

// winModelKey is a window of a model the window stores are checked against.
type winModelKey struct {
	key   string
	start int64
}
