package state

import (
	"fmt"
	"testing"
	"time"

	"github.com/kafki/kafki/serde"
)

func TestTypedStores(t *testing.T) {
	kv := NewInMemoryKeyValueStore("kv")
	checkClosed(t, kv)
	s := NewTimestampedKeyValueStore(kv, serde.String(), serde.Int64())
	must(t, s.Put("a", ValueAndTimestamp[int64]{Value: 1, Timestamp: 100}))
	must(t, s.Put("b", ValueAndTimestamp[int64]{Value: 2, Timestamp: -5}))
	v, ok, err := s.Get("a")
	must(t, err)
	if !ok || v.Value != 1 || v.Timestamp != 100 {
		t.Fatalf("get = %+v %v", v, ok)
	}
	if _, ok, _ := s.Get("zz"); ok {
		t.Fatal("missing key found")
	}
	raw, _ := kv.Get(b("b"))
	ts, val, err := DecodeTimestamped(raw)
	must(t, err)
	if ts != -5 || len(val) != 8 {
		t.Fatalf("raw timestamped value %x", raw)
	}
	from := "a"
	it, err := s.Range(&from, nil)
	must(t, err)
	var got []string
	for it.Next() {
		got = append(got, fmt.Sprintf("%s=%d@%d", it.Key(), it.Value().Value, it.Value().Timestamp))
	}
	must(t, it.Err())
	must(t, it.Close())
	eq(t, got, []string{"a=1@100", "b=2@-5"})
	old, ok, err := s.Delete("a")
	must(t, err)
	if !ok || old.Value != 1 {
		t.Fatalf("delete = %+v", old)
	}

	ws := NewInMemoryWindowStore("w", time.Hour, 0, false)
	checkClosed(t, ws)
	w := NewTypedWindowStore(ws, serde.String(), serde.String())
	must(t, w.Put("k", "x", 10))
	must(t, w.Put("k", "y", 20))
	wi, err := w.FetchRange("k", 0, 100)
	must(t, err)
	got = nil
	for wi.Next() {
		got = append(got, fmt.Sprintf("%s@%d=%s", wi.Key(), wi.WindowStart(), wi.Value()))
	}
	must(t, wi.Close())
	eq(t, got, []string{"k@10=x", "k@20=y"})
	must(t, w.Delete("k", 10))
	if _, ok, _ := w.Fetch("k", 10); ok {
		t.Fatal("deleted window fetched")
	}

	ss := NewInMemorySessionStore("s", time.Hour, 0)
	checkClosed(t, ss)
	sess := NewTypedSessionStore(ss, serde.String(), serde.Int64())
	must(t, sess.Put("k", 1, 5, 42))
	si, err := sess.FindSessions("k", 0, 10)
	must(t, err)
	if !si.Next() || si.Value() != 42 || si.Start() != 1 || si.End() != 5 || si.Key() != "k" {
		t.Fatalf("session iterator")
	}
	must(t, si.Close())
}
