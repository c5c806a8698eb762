package changelog

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kafki/kafki/serde"
	"github.com/kafki/kafki/state"
)

type sent struct {
	topic      string
	partition  int32
	key, value []byte
	ts         int64
}

type memSink struct{ records []sent }

func (s *memSink) Send(topic string, partition int32, key, value []byte, _ []serde.Header, ts int64) error {
	s.records = append(s.records, sent{topic, partition, key, value, ts})
	return nil
}

func TestLoggingKeyValueStore(t *testing.T) {
	sink := &memSink{}
	inner := state.NewInMemoryKeyValueStore("s")
	ts := int64(100)
	s := NewLoggingKeyValueStore(inner, "app-s-changelog", 4, sink, func() int64 { ts++; return ts })

	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(s.Put([]byte("a"), []byte("1")))
	prev, err := s.PutIfAbsent([]byte("a"), []byte("2")) // not stored, not logged
	must(err)
	if string(prev) != "1" {
		t.Fatalf("PutIfAbsent returned %q", prev)
	}
	_, err = s.PutIfAbsent([]byte("b"), []byte("3"))
	must(err)
	must(s.PutAll([]state.KeyValue{{Key: []byte("c"), Value: []byte("4")}, {Key: []byte("a"), Value: nil}}))
	prev, err = s.Delete([]byte("b"))
	must(err)
	if string(prev) != "3" {
		t.Fatalf("Delete returned %q", prev)
	}
	must(s.Put([]byte("c"), nil))

	want := []sent{
		{"app-s-changelog", 4, []byte("a"), []byte("1"), 101},
		{"app-s-changelog", 4, []byte("b"), []byte("3"), 102},
		{"app-s-changelog", 4, []byte("c"), []byte("4"), 103},
		{"app-s-changelog", 4, []byte("a"), nil, 104},
		{"app-s-changelog", 4, []byte("b"), nil, 105},
		{"app-s-changelog", 4, []byte("c"), nil, 106},
	}
	checkSent(t, sink.records, want)
	if n, _ := inner.ApproximateNumEntries(); n != 0 {
		t.Errorf("inner store has %d entries, want 0", n)
	}

	s2 := NewLoggingKeyValueStore(inner, "t", 0, sink, nil)
	must(s2.Put([]byte("z"), []byte("9")))
	if got := sink.records[len(sink.records)-1].ts; time.Since(time.UnixMilli(got)) > time.Minute {
		t.Errorf("nil timestamp func: record time %d is not the wall clock", got)
	}
	r := mustRestorable(t, s2) // unwraps to inner
	if r.Name() != "s" {
		t.Fatalf("restorable of %q", r.Name())
	}
	if l, ok := s2.(Logged); !ok || l.Unwrap() != inner || func() bool { tp, p := l.ChangelogTopicPartition(); return tp != "t" || p != 0 }() {
		t.Errorf("logging store does not expose its inner store and partition")
	}
}

func checkSent(t *testing.T, got, want []sent) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("sent %d records, want %d: %+v", len(got), len(want), got)
	}
	for i := range want {
		g, w := got[i], want[i]
		if g.topic != w.topic || g.partition != w.partition || !bytes.Equal(g.key, w.key) ||
			!bytes.Equal(g.value, w.value) || (g.value == nil) != (w.value == nil) || g.ts != w.ts {
			t.Errorf("record %d: got %+v, want %+v", i, g, w)
		}
	}
}

func TestChangelogKeys(t *testing.T) {
	for _, key := range [][]byte{{}, []byte("k"), {0, 0xff, 0}, bytes.Repeat([]byte("x"), 300)} {
		for _, start := range []int64{0, 1, -5, 1 << 50} {
			b := WindowChangelogKey(key, start, 77)
			if len(b) != len(key)+12 {
				t.Fatalf("window key length %d", len(b))
			}
			k, s, seq, err := DecodeWindowChangelogKey(b)
			if err != nil || !bytes.Equal(k, key) || s != start || seq != 77 {
				t.Errorf("window key %q/%d: got %q %d %d %v", key, start, k, s, seq, err)
			}
			b = SessionChangelogKey(key, start, start+10)
			k, s, e, err := DecodeSessionChangelogKey(b)
			if err != nil || !bytes.Equal(k, key) || s != start || e != start+10 {
				t.Errorf("session key %q/%d: got %q %d %d %v", key, start, k, s, e, err)
			}
		}
	}
	// Kafka Streams' layout: key, then big-endian start and sequence number;
	// key, then end, then start.
	if got := WindowChangelogKey([]byte("k"), 0x0102, 3); !bytes.Equal(got, []byte{'k', 0, 0, 0, 0, 0, 0, 1, 2, 0, 0, 0, 3}) {
		t.Errorf("window key bytes %v", got)
	}
	if got := SessionChangelogKey([]byte("k"), 1, 2); !bytes.Equal(got, []byte{'k', 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 1}) {
		t.Errorf("session key bytes %v", got)
	}
	if _, _, _, err := DecodeWindowChangelogKey(make([]byte, 11)); err == nil {
		t.Error("short window key decoded")
	}
	if _, _, _, err := DecodeSessionChangelogKey(make([]byte, 15)); err == nil {
		t.Error("short session key decoded")
	}
}

func TestNaming(t *testing.T) {
	if got := ChangelogTopic("wordcount", "counts-store"); got != "wordcount-counts-store-changelog" {
		t.Errorf("ChangelogTopic = %s", got)
	}
	if got := RepartitionTopic("wordcount", "KSTREAM-AGGREGATE-STATE-STORE-0000000003"); got != "wordcount-KSTREAM-AGGREGATE-STATE-STORE-0000000003-repartition" {
		t.Errorf("RepartitionTopic = %s", got)
	}
	kv := TopicConfigs(state.Spec{Kind: state.KindKeyValue})
	if len(kv) != 2 || kv["cleanup.policy"] != "compact" || kv["retention.ms"] != "-1" {
		t.Errorf("key-value configs %v", kv)
	}
	for _, kind := range []state.Kind{state.KindWindow, state.KindSession} {
		w := TopicConfigs(state.Spec{Kind: kind, Retention: time.Hour})
		if w["cleanup.policy"] != "compact,delete" || w["retention.ms"] != "90000000" {
			t.Errorf("kind %d configs %v", kind, w)
		}
	}
	if def := TopicConfigs(state.Spec{Kind: state.KindSession}); def["retention.ms"] != "172800000" {
		t.Errorf("default retention: %v, want two days (state.DefaultRetention + one day)", def)
	}
	over := TopicConfigs(state.Spec{Kind: state.KindWindow, Retention: time.Hour,
		LogConfig: map[string]string{"retention.ms": "5", "min.insync.replicas": "2"}})
	if over["retention.ms"] != "5" || over["min.insync.replicas"] != "2" || over["cleanup.policy"] != "compact,delete" {
		t.Errorf("LogConfig does not override: %v", over)
	}
}

// putRecorder records the writes to a window or session store; other
// methods are not used by the wrappers under test.
type putRecorder struct {
	state.WindowStore
	puts []string
}

func (p *putRecorder) Name() string { return "w" }
func (p *putRecorder) Put(key, value []byte, start int64) error {
	p.puts = append(p.puts, fmt.Sprintf("%s@%d=%v", key, start, value))
	return nil
}

type sessionRecorder struct {
	state.SessionStore
	ops []string
}

func (p *sessionRecorder) Name() string { return "s" }
func (p *sessionRecorder) Put(key []byte, start, end int64, value []byte) error {
	p.ops = append(p.ops, fmt.Sprintf("put %s[%d,%d]=%s", key, start, end, value))
	return nil
}
func (p *sessionRecorder) Remove(key []byte, start, end int64) error {
	p.ops = append(p.ops, fmt.Sprintf("remove %s[%d,%d]", key, start, end))
	return nil
}

func TestLoggingWindowStore(t *testing.T) {
	for _, dups := range []bool{false, true} {
		sink := &memSink{}
		inner := &putRecorder{}
		s := NewLoggingWindowStore(inner, dups, "app-w-changelog", 2, sink, func() int64 { return 5 })
		s.Put([]byte("a"), []byte("1"), 100)
		s.Put([]byte("a"), []byte("2"), 100)
		s.Put([]byte("b"), nil, 200)
		var seq1, seq2 uint32
		if dups {
			seq1, seq2 = 1, 2
		}
		want := []sent{
			{"app-w-changelog", 2, WindowChangelogKey([]byte("a"), 100, seq1), []byte("1"), 5},
			{"app-w-changelog", 2, WindowChangelogKey([]byte("a"), 100, seq2), []byte("2"), 5},
		}
		if !dups { // a delete is logged as a tombstone; with duplicates it is a no-op
			want = append(want, sent{"app-w-changelog", 2, WindowChangelogKey([]byte("b"), 200, 0), nil, 5})
		}
		checkSent(t, sink.records, want)
		if len(inner.puts) != 3 {
			t.Errorf("inner store got %v", inner.puts)
		}

		// Restoring the changelog replays the same puts.
		replay := &putRecorder{}
		var recs []*kgo.Record
		for _, r := range sink.records {
			recs = append(recs, &kgo.Record{Key: r.key, Value: r.value})
		}
		if err := ApplyRecords(replay, recs); err != nil {
			t.Fatal(err)
		}
		if got, want := strings.Join(replay.puts, " "), strings.Join(inner.puts[:len(recs)], " "); got != want {
			t.Errorf("dups=%v: replayed %s, want %s", dups, got, want)
		}
	}
}

func TestLoggingSessionStore(t *testing.T) {
	sink := &memSink{}
	inner := &sessionRecorder{}
	s := NewLoggingSessionStore(inner, "app-s-changelog", 0, sink, func() int64 { return 9 })
	s.Put([]byte("a"), 10, 20, []byte("x"))
	s.Remove([]byte("a"), 10, 20)
	s.Put([]byte("b"), 30, 30, []byte("y"))
	checkSent(t, sink.records, []sent{
		{"app-s-changelog", 0, SessionChangelogKey([]byte("a"), 10, 20), []byte("x"), 9},
		{"app-s-changelog", 0, SessionChangelogKey([]byte("a"), 10, 20), nil, 9},
		{"app-s-changelog", 0, SessionChangelogKey([]byte("b"), 30, 30), []byte("y"), 9},
	})
	replay := &sessionRecorder{}
	var recs []*kgo.Record
	for i, r := range sink.records {
		recs = append(recs, &kgo.Record{Key: r.key, Value: r.value, Offset: int64(i)})
		if i == 1 { // a transaction marker is skipped
			recs = append(recs, &kgo.Record{Attrs: kgo.NewRecordAttrs(kgo.RecordAttrsOpts{Control: true}), Offset: 99})
		}
	}
	if err := ApplyRecords(replay, recs); err != nil {
		t.Fatal(err)
	}
	if got, want := strings.Join(replay.ops, "; "), strings.Join(inner.ops, "; "); got != want {
		t.Errorf("replayed %s, want %s", got, want)
	}
	// A key too short to be a session key fails the batch.
	if err := ApplyRecords(replay, []*kgo.Record{{Key: []byte("short")}}); err == nil {
		t.Error("a malformed changelog key was applied")
	}
}
