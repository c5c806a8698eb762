package state

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"reflect"
	"strings"
	"testing"

	"github.com/kafki/kafki/serde"
)

type loggedRecord struct {
	key, value []byte
	headers    []serde.Header
}

type recordingSink struct{ recs []loggedRecord }

func (s *recordingSink) Send(_ string, _ int32, key, value []byte, headers []serde.Header, _ int64) error {
	s.recs = append(s.recs, loggedRecord{key, value, headers})
	return nil
}

func ctxAt(ts int64) RecordContext {
	return RecordContext{Timestamp: ts, Topic: "in", Partition: 0, Offset: ts}
}

// drain evicts everything and describes it: key=new(old,prior)@ts/buffer time.
func drain(t *testing.T, b *TimeOrderedBuffer) string {
	t.Helper()
	var out []string
	err := b.EvictWhile(func() bool { return true }, func(k []byte, v *BufferValue) error {
		out = append(out, fmt.Sprintf("%s=%s(%s,%s)@%d/%d", k, v.New, v.Old, v.Prior, v.Context.Timestamp, b.MinTimestamp()))
		return nil
	})
	must(t, err)
	return strings.Join(out, " ")
}

func TestTimeOrderedBufferOrderKeepsFirstBufferTime(t *testing.T) {
	buf := NewTimeOrderedBuffer("buf")
	must(t, buf.Put(5, b("b"), nil, b("1"), ctxAt(5)))
	must(t, buf.Put(5, b("a"), nil, b("1"), ctxAt(5)))
	must(t, buf.Put(3, b("z"), b("0"), b("1"), ctxAt(3)))
	// An update keeps the key's buffer time (5, not 1) and its prior value.
	must(t, buf.Put(1, b("b"), b("1"), b("2"), ctxAt(6)))
	if buf.MinTimestamp() != 3 || buf.NumRecords() != 3 {
		t.Fatalf("min time %d, %d records; want 3, 3", buf.MinTimestamp(), buf.NumRecords())
	}
	got := drain(t, buf)
	if want := "z=1(0,0)@3/3 a=1(,)@5/5 b=2(1,)@6/5"; got != want {
		t.Errorf("eviction order:\n got %s\nwant %s", got, want)
	}
	if buf.MinTimestamp() != math.MaxInt64 || buf.BufferSize() != 0 {
		t.Errorf("empty buffer: min time %d, size %d", buf.MinTimestamp(), buf.BufferSize())
	}
}

func TestTimeOrderedBufferSizeAsKafkaStreams(t *testing.T) {
	buf := NewTimeOrderedBuffer("buf")
	rc := RecordContext{Topic: "topic", Headers: []serde.Header{{Key: "hé", Value: b("xyz")}, {Key: "n"}}}
	// 8 + key 2 + new 3 + (prior = old: counted once) 0 + context 8+8+5+4
	// + headers (2 chars + 3) + (1 char + 0).
	must(t, buf.Put(0, b("k1"), nil, b("abc"), rc))
	if got, want := buf.BufferSize(), int64(8+2+3+25+5+1); got != want {
		t.Errorf("size %d, want %d", got, want)
	}
	// The update: prior nil, old "abc" (different: counted), new "de".
	must(t, buf.Put(0, b("k1"), b("abc"), b("de"), RecordContext{Topic: "topic"}))
	if got, want := buf.BufferSize(), int64(8+2+3+2+25); got != want {
		t.Errorf("size after update %d, want %d", got, want)
	}
	must(t, buf.EvictWhile(func() bool { return buf.NumRecords() > 0 }, func([]byte, *BufferValue) error { return nil }))
	if buf.BufferSize() != 0 {
		t.Errorf("size after eviction %d", buf.BufferSize())
	}
}

func TestTimeOrderedBufferLogsAtFlushAndRestores(t *testing.T) {
	sink := &recordingSink{}
	buf := NewTimeOrderedBuffer("buf").logTo(Changelog{Topic: "app-buf-changelog", Sink: sink})
	for i := range 10 {
		must(t, buf.Put(10, b("hot"), nil, []byte(fmt.Sprint(i)), ctxAt(int64(i))))
	}
	must(t, buf.Put(20, b("cold"), b("x"), b("y"), RecordContext{Timestamp: 20, Topic: "in", Headers: []serde.Header{{Key: "h", Value: b("v")}}}))
	must(t, buf.Put(30, b("gone"), nil, b("1"), ctxAt(30)))
	if len(sink.recs) != 0 {
		t.Fatalf("logged %d records before the flush", len(sink.recs))
	}
	must(t, buf.Flush())
	if len(sink.recs) != 3 {
		t.Fatalf("one flush of three keys logged %d records", len(sink.recs))
	}
	for _, r := range sink.recs {
		if !reflect.DeepEqual(r.headers, []serde.Header{{Key: "v", Value: []byte{3}}}) {
			t.Errorf("%s: headers %v, want v=3", r.key, r.headers)
		}
	}
	// Evicting "hot" and "gone" logs tombstones at the next flush; a flush
	// with nothing changed logs nothing.
	must(t, buf.EvictWhile(func() bool { return buf.MinTimestamp() <= 10 }, func([]byte, *BufferValue) error { return nil }))
	must(t, buf.Put(31, b("gone"), nil, b("2"), ctxAt(31)))
	must(t, buf.EvictWhile(func() bool { return buf.MinTimestamp() <= 20 }, func([]byte, *BufferValue) error { return nil }))
	must(t, buf.Flush())
	must(t, buf.Flush())
	if len(sink.recs) != 6 {
		t.Fatalf("second flush: %d records in all, want 6", len(sink.recs))
	}
	for i, want := range []string{"hot", "gone", "cold"} {
		r := sink.recs[3+i]
		if string(r.key) != want || (r.value == nil) != (want != "gone") {
			t.Errorf("record %d: %s (tombstone %t)", 3+i, r.key, r.value == nil)
		}
	}

	restored := NewTimeOrderedBuffer("buf")
	for _, r := range sink.recs {
		must(t, restored.Restore(r.key, r.value, r.headers))
	}
	if restored.BufferSize() != buf.BufferSize() || restored.NumRecords() != 1 {
		t.Errorf("restored: %d records, %d bytes; want 1, %d", restored.NumRecords(), restored.BufferSize(), buf.BufferSize())
	}
	want := drain(t, buf)
	if got := drain(t, restored); got != want || want != "gone=2(,)@31/30" {
		t.Errorf("restored buffer holds %q, the buffer %q", got, want)
	}
}

func TestTimeOrderedBufferRestoreRejectsForeignRecords(t *testing.T) {
	good := encodeBufferValue(&BufferValue{New: b("v"), Context: ctxAt(1)}, 1)
	v3 := []serde.Header{{Key: "v", Value: []byte{3}}}
	for name, tc := range map[string]struct {
		value   []byte
		headers []serde.Header
	}{
		"no version header": {good, nil},
		"version 2":         {good, []serde.Header{{Key: "v", Value: []byte{2}}}},
		"truncated":         {good[:len(good)-1], v3},
		"trailing bytes":    {append(append([]byte(nil), good...), 0), v3},
		"empty":             {[]byte{}, v3},
	} {
		err := NewTimeOrderedBuffer("buf").Restore(b("k"), tc.value, tc.headers)
		if !errors.Is(err, ErrBadBufferChangelog) {
			t.Errorf("%s: %v, want ErrBadBufferChangelog", name, err)
		}
	}
}

func TestTimeOrderedBufferClosed(t *testing.T) {
	buf := NewTimeOrderedBuffer("buf")
	must(t, buf.Close())
	if err := buf.Put(0, b("k"), nil, nil, RecordContext{}); !errors.Is(err, ErrClosed) {
		t.Errorf("Put on a closed buffer: %v", err)
	}
	if err := buf.Flush(); !errors.Is(err, ErrClosed) {
		t.Errorf("Flush on a closed buffer: %v", err)
	}
}

// FuzzBufferValueDecode: decoding never panics, and what decodes encodes
// back to a value that decodes the same.
func FuzzBufferValueDecode(f *testing.F) {
	f.Add(encodeBufferValue(&BufferValue{New: b("v"), Context: ctxAt(1)}, 1))
	f.Add(encodeBufferValue(&BufferValue{Prior: b("p"), Old: b("p"), New: b("n"),
		Context: RecordContext{Topic: "t", Headers: []serde.Header{{Key: "k", Value: b("v")}, {Key: "nil"}}}}, -5))
	f.Add(encodeBufferValue(&BufferValue{Prior: []byte{}, Old: nil, New: nil}, math.MaxInt64))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		v, bt, err := decodeBufferValue(data)
		if err != nil {
			if !errors.Is(err, ErrBadBufferChangelog) {
				t.Fatalf("error %v does not wrap ErrBadBufferChangelog", err)
			}
			return
		}
		again, bt2, err := decodeBufferValue(encodeBufferValue(&v, bt))
		if err != nil || bt2 != bt || !reflect.DeepEqual(again, v) {
			t.Fatalf("round trip of %x: %+v@%d, then %+v@%d (%v)", data, v, bt, again, bt2, err)
		}
		if !bytes.Equal(encodeBufferValue(&again, bt2), encodeBufferValue(&v, bt)) {
			t.Fatalf("encoding of %x is not stable", data)
		}
	})
}

// A key taken out and buffered again between two flushes is logged once,
// with its new entry (buffer time and prior of the new put), as with Kafka
// Streams' dirty key set. (Its place among the other keys' records may
// differ from Kafka Streams': a key never logged live is forgotten when it
// leaves, and comes back as a new key. Restoration does not depend on the
// order of different keys.)
func TestTimeOrderedBufferKeyBackBeforeFlushLogsOnce(t *testing.T) {
	sink := &recordingSink{}
	buf := NewTimeOrderedBuffer("buf").logTo(Changelog{Topic: "app-buf-changelog", Sink: sink})
	must(t, buf.Put(10, b("k"), b("o1"), b("1"), ctxAt(10)))
	must(t, buf.Put(20, b("other"), nil, b("x"), ctxAt(20)))
	must(t, buf.EvictWhile(func() bool { return buf.MinTimestamp() <= 10 }, func([]byte, *BufferValue) error { return nil }))
	if buf.NumRecords() != 1 {
		t.Fatalf("%d records after evicting k, want 1", buf.NumRecords())
	}
	must(t, buf.Put(40, b("k"), b("o2"), b("2"), ctxAt(40)))
	must(t, buf.Flush())
	if len(sink.recs) != 2 || string(sink.recs[0].key) != "other" || string(sink.recs[1].key) != "k" || sink.recs[1].value == nil {
		t.Fatalf("logged %d records: %v", len(sink.recs), sink.recs)
	}
	restored := NewTimeOrderedBuffer("buf")
	for _, r := range sink.recs {
		must(t, restored.Restore(r.key, r.value, r.headers))
	}
	if got, want := drain(t, restored), "other=x(,)@20/20 k=2(o2,o2)@40/40"; got != want {
		t.Errorf("restored:\n got %s\nwant %s", got, want)
	}
	// The flush still finds k's entry by its key: an update keeps it.
	must(t, buf.Put(45, b("k"), b("2"), b("3"), ctxAt(45)))
	if buf.NumRecords() != 2 {
		t.Fatalf("%d records after updating k, want 2", buf.NumRecords())
	}
	// Taken out again: the next flush logs its tombstone, once.
	must(t, buf.EvictWhile(func() bool { return true }, func([]byte, *BufferValue) error { return nil }))
	must(t, buf.Flush())
	must(t, buf.Flush())
	if len(sink.recs) != 4 || sink.recs[2].value != nil || sink.recs[3].value != nil || buf.NumRecords() != 0 {
		t.Fatalf("after evicting everything: %d records: %v", len(sink.recs), sink.recs)
	}
}

// A key put and taken out between two flushes never reached the
// changelog: it needs neither its value nor a tombstone there. A key whose
// value was logged, or restored, needs its tombstone when it leaves, or a
// restore would bring it back.
func TestTimeOrderedBufferTombstonesOnlyLoggedKeys(t *testing.T) {
	sink := &recordingSink{}
	buf := NewTimeOrderedBuffer("buf").logTo(Changelog{Topic: "app-buf-changelog", Sink: sink})
	must(t, buf.Put(10, b("brief"), nil, b("1"), ctxAt(10)))
	must(t, buf.Put(20, b("logged"), nil, b("1"), ctxAt(20)))
	must(t, buf.EvictWhile(func() bool { return buf.MinTimestamp() <= 10 }, func([]byte, *BufferValue) error { return nil }))
	must(t, buf.Flush())
	if len(sink.recs) != 1 || string(sink.recs[0].key) != "logged" || sink.recs[0].value == nil {
		t.Fatalf("first flush logged %v, want only logged's value", sink.recs)
	}
	must(t, buf.Put(30, b("brief"), nil, b("2"), ctxAt(30)))
	must(t, buf.EvictWhile(func() bool { return true }, func([]byte, *BufferValue) error { return nil }))
	must(t, buf.Flush())
	if len(sink.recs) != 2 || string(sink.recs[1].key) != "logged" || sink.recs[1].value != nil {
		t.Fatalf("second flush logged %v, want only logged's tombstone", sink.recs[1:])
	}

	// A buffer restored from a changelog owes tombstones to what it restored.
	log := []loggedRecord{{b("restored"), encodeBufferValue(&BufferValue{New: b("1"), Context: ctxAt(40)}, 40), bufferChangelogHeaders}}
	sink2 := &recordingSink{recs: log}
	again := NewTimeOrderedBuffer("buf").logTo(Changelog{Topic: "app-buf-changelog", Sink: sink2})
	must(t, again.Restore(log[0].key, log[0].value, log[0].headers))
	must(t, again.Put(50, b("fresh"), nil, b("1"), ctxAt(50)))
	must(t, again.EvictWhile(func() bool { return true }, func([]byte, *BufferValue) error { return nil }))
	must(t, again.Flush())
	if len(sink2.recs) != 2 || string(sink2.recs[1].key) != "restored" || sink2.recs[1].value != nil {
		t.Fatalf("after restoring: logged %v, want restored's tombstone only", sink2.recs[1:])
	}
	for _, recs := range [][]loggedRecord{sink.recs, sink2.recs} {
		fresh := NewTimeOrderedBuffer("buf")
		for _, r := range recs {
			must(t, fresh.Restore(r.key, r.value, r.headers))
		}
		if fresh.NumRecords() != 0 {
			t.Errorf("restoring %d records rebuilt %q, want an empty buffer", len(recs), drain(t, fresh))
		}
	}
}

// Many keys put and taken out between two flushes do not stay in the
// dirty list until the flush; what the flush logs is unchanged: the keys
// still buffered, and tombstones for the logged keys that left.
func TestTimeOrderedBufferForgetsUnloggedKeysBeforeFlush(t *testing.T) {
	sink := &recordingSink{}
	buf := NewTimeOrderedBuffer("buf").logTo(Changelog{Topic: "app-buf-changelog", Sink: sink})
	key := func(i int) []byte { return []byte(fmt.Sprintf("k%05d", i)) }
	for i := range 100 {
		must(t, buf.Put(int64(i), key(i), nil, b("logged"), ctxAt(int64(i))))
	}
	must(t, buf.Flush())
	for i := 100; i < 5000; i++ {
		must(t, buf.Put(int64(i), key(i), nil, b("brief"), ctxAt(int64(i))))
	}
	// Everything below 4000 leaves: 100 logged keys, 3900 never logged.
	must(t, buf.EvictWhile(func() bool { return buf.MinTimestamp() < 4000 }, func([]byte, *BufferValue) error { return nil }))
	if len(buf.dirty) > 2500 {
		t.Errorf("dirty list holds %d entries after 3900 unlogged keys left, want it compacted", len(buf.dirty))
	}
	for i := 3000; i < 3010; i++ { // back after leaving
		must(t, buf.Put(int64(i), key(i), nil, b("back"), ctxAt(int64(i))))
	}
	sink.recs = nil
	must(t, buf.Flush())
	values, tombstones := 0, 0
	for _, r := range sink.recs {
		if r.value == nil {
			tombstones++
		} else {
			values++
		}
	}
	if values != 1010 || tombstones != 100 {
		t.Errorf("flush logged %d values and %d tombstones, want 1010 and 100", values, tombstones)
	}
	restored := NewTimeOrderedBuffer("buf")
	for _, r := range sink.recs {
		must(t, restored.Restore(r.key, r.value, r.headers))
	}
	if got, want := drain(t, restored), drain(t, buf); got != want {
		t.Errorf("restored buffer differs:\n got %.200s\nwant %.200s", got, want)
	}
}

// Put copies the key and values: the caller may reuse its slices (the
// suppressor encodes into one scratch buffer), and an empty value stays a
// value, not a null, in what is emitted and logged.
func TestTimeOrderedBufferPutCopies(t *testing.T) {
	sink := &recordingSink{}
	buf := NewTimeOrderedBuffer("buf").logTo(Changelog{Topic: "c", Sink: sink})
	scratch := []byte("k1oldnew")
	must(t, buf.Put(5, scratch[0:2], scratch[2:5], scratch[5:8], ctxAt(5)))
	copy(scratch, "k2xxxyyy")
	must(t, buf.Put(5, scratch[0:2], []byte{}, scratch[2:2], ctxAt(6)))
	copy(scratch, "k1OLDNEW")
	must(t, buf.Put(5, scratch[0:2], scratch[2:5], scratch[5:8], ctxAt(7))) // an update of k1
	long := bytes.Repeat([]byte("L"), 60)                                   // too long for the entry's own bytes
	must(t, buf.Put(6, long, nil, scratch[0:3], ctxAt(8)))
	copy(scratch, "zzzzzzzz")
	long[0] = 'X'
	must(t, buf.Flush())
	var got []string
	must(t, buf.EvictWhile(func() bool { return true }, func(k []byte, v *BufferValue) error {
		got = append(got, fmt.Sprintf("%s=%q(%q,%q) nil:%v,%v,%v", k, v.New, v.Old, v.Prior, v.New == nil, v.Old == nil, v.Prior == nil))
		return nil
	}))
	want := []string{`k1="NEW"("OLD","old") nil:false,false,false`, `k2=""("","") nil:false,false,false`,
		strings.Repeat("L", 60) + `="k1O"("","") nil:false,true,true`}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("emitted\n %q\nwant\n %q", got, want)
	}
	if len(sink.recs) != 3 || string(sink.recs[0].key) != "k1" || string(sink.recs[1].key) != "k2" {
		t.Fatalf("logged %d records: %+v", len(sink.recs), sink.recs)
	}
	v, bt, err := decodeBufferValue(sink.recs[1].value)
	if err != nil || bt != 5 || v.New == nil || len(v.New) != 0 || v.Old == nil || len(v.Old) != 0 {
		t.Errorf("k2 logged as %+v at %d (%v); want empty old and new values", v, bt, err)
	}
}
