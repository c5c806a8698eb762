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
	tm := time.UnixMilli
	must(t, s.Put("a", ValueAndTimestamp[int64]{Value: 1, Timestamp: tm(100).Add(time.Microsecond)}))
	must(t, s.Put("b", ValueAndTimestamp[int64]{Value: 2})) // no timestamp
	v, ok, err := s.Get("a")
	must(t, err)
	if !ok || v.Value != 1 || !v.Timestamp.Equal(tm(100)) {
		t.Fatalf("get = %+v %v", v, ok)
	}
	if _, ok, _ := s.Get("zz"); ok {
		t.Fatal("missing key found")
	}
	raw, _ := kv.Get(b("b"))
	ts, val, err := DecodeTimestamped(raw)
	must(t, err)
	if ts != -1 || len(val) != 8 { // Kafka's "no timestamp"
		t.Fatalf("raw timestamped value %x", raw)
	}
	from := "a"
	it, err := s.Range(&from, nil)
	must(t, err)
	var got []string
	for it.Next() {
		vt := it.Value()
		got = append(got, fmt.Sprintf("%s=%d@%d zero=%v", it.Key(), vt.Value, vt.Timestamp.UnixMilli(), vt.Timestamp.IsZero()))
	}
	must(t, it.Err())
	must(t, it.Close())
	eq(t, got, []string{"a=1@100 zero=false", "b=2@-62135596800000 zero=true"})
	old, ok, err := s.Delete("a")
	must(t, err)
	if !ok || old.Value != 1 {
		t.Fatalf("delete = %+v", old)
	}

	ws := NewInMemoryWindowStore("w", time.Hour, 0, false)
	checkClosed(t, ws)
	w := NewTypedWindowStore(ws, serde.String(), serde.String())
	must(t, w.Put("k", "x", tm(10)))
	must(t, w.Put("k", "y", tm(20)))
	wi, err := w.FetchRange("k", time.Time{}, tm(100))
	must(t, err)
	got = nil
	for wi.Next() {
		got = append(got, fmt.Sprintf("%s@%d=%s", wi.Key(), wi.WindowStart().UnixMilli(), wi.Value()))
	}
	must(t, wi.Close())
	eq(t, got, []string{"k@10=x", "k@20=y"})
	must(t, w.Delete("k", tm(10)))
	if _, ok, _ := w.Fetch("k", tm(10)); ok {
		t.Fatal("deleted window fetched")
	}

	ss := NewInMemorySessionStore("s", time.Hour, 0)
	checkClosed(t, ss)
	sess := NewTypedSessionStore(ss, serde.String(), serde.Int64())
	must(t, sess.Put("k", tm(1), tm(5), 42))
	si, err := sess.FindSessions("k", tm(0), tm(10))
	must(t, err)
	if !si.Next() || si.Value() != 42 || !si.Start().Equal(tm(1)) || !si.End().Equal(tm(5)) || si.Key() != "k" {
		t.Fatalf("session iterator")
	}
	must(t, si.Close())
}
