package changelog

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kafki/kafki/internal/kafkatest"
	"github.com/kafki/kafki/state"
)

// writeKV writes n keys through a logged store, with overwrites and
// deletes, and mirrors the writes in want.
func writeKV(t *testing.T, s state.KeyValueStore, want map[string]string, round, n int) {
	t.Helper()
	for i := 0; i < n; i++ {
		k := fmt.Sprintf("key-%05d", i)
		v := fmt.Sprintf("v%d-%d", round, i)
		switch {
		case i%10 == 3:
			if _, err := s.Delete([]byte(k)); err != nil {
				t.Fatal(err)
			}
			delete(want, k)
		case i%10 == 7 && round == 0:
			if err := s.PutAll([]state.KeyValue{{Key: []byte(k), Value: []byte(v)}, {Key: []byte(k + "-b"), Value: []byte(v)}}); err != nil {
				t.Fatal(err)
			}
			want[k], want[k+"-b"] = v, v
		default:
			if err := s.Put([]byte(k), []byte(v)); err != nil {
				t.Fatal(err)
			}
			want[k] = v
		}
	}
}

func TestRestoreKeyValue(t *testing.T) {
	for _, engine := range []state.Engine{state.RocksDB, state.Pebble, state.InMemory} {
		t.Run(engine.String(), func(t *testing.T) { testRestoreKeyValue(t, engine) })
	}
}

func testRestoreKeyValue(t *testing.T, engine state.Engine) {
	c := kafkatest.New(t, 1)
	appID := c.Topic("app")
	spec := state.Spec{Name: "counts", Kind: state.KindKeyValue, Engine: engine}
	topic := ChangelogTopic(appID, spec.Name)
	createChangelog(c, topic, 2, spec)
	tp := TopicPartition{Topic: topic, Partition: 1}
	sink := newProducerSink(t, c)

	root := t.TempDir()
	sd, err := OpenStateDir(root, appID, WithLogger(quietLogger()))
	if err != nil {
		t.Fatal(err)
	}
	open := func() (*TaskDir, state.KeyValueStore, bool) {
		t.Helper()
		td, err := sd.LockTask("0_1")
		if err != nil {
			t.Fatal(err)
		}
		st, trusted, err := OpenStore(td, spec, StoreOptions{Changelog: tp})
		if err != nil {
			t.Fatal(err)
		}
		return td, st.(state.KeyValueStore), trusted
	}

	// Write through the logged store.
	td, engineStore, trusted := open()
	if trusted {
		t.Fatal("a new store was trusted")
	}
	logged := NewLoggingKeyValueStore(engineStore, topic, tp.Partition, sink, func() int64 { return 1000 })
	want := map[string]string{}
	writeKV(t, logged, want, 0, 3000)
	sent := sink.flush(t)
	if got := contents(t, engineStore); len(got) != len(want) {
		t.Fatalf("store has %d keys before restoring, want %d", len(got), len(want))
	}
	if err := logged.Close(); err != nil {
		t.Fatal(err)
	}
	td.Close()

	// Delete the local state, restore from the changelog.
	if err := os.RemoveAll(filepath.Join(root, appID)); err != nil {
		t.Fatal(err)
	}
	td, engineStore, trusted = open()
	if trusted {
		t.Fatal("a rebuilt store was trusted")
	}
	start := td.ReadCheckpoint()[tp]
	listener := &recordingListener{}
	r := newRestorer(t, c, RestorerConfig{Listener: listener, BatchSize: 500})
	job, err := NewRestorable(engineStore)
	if err != nil {
		t.Fatal(err)
	}
	res, err := r.Restore(ctxT(t), Job{Store: job, Partition: tp, Start: start})
	if err != nil {
		t.Fatal(err)
	}
	// The broker may have compacted away overwritten records already.
	if res.Restored > int64(sent) || res.Restored < int64(len(want)) || res.Next != int64(sent) || res.End != int64(sent) {
		t.Fatalf("restore = %+v; want at most %d records restored, next offset %d", res, sent, sent)
	}
	compareContents(t, contents(t, engineStore), want)
	if len(listener.starts) != 1 || listener.starts[0] != fmt.Sprintf("counts %s %d-%d", tp, res.Start, sent) {
		t.Errorf("OnRestoreStart calls: %q", listener.starts)
	}
	if listener.batched != res.Restored || listener.batches < int(res.Restored)/500 || listener.lastEnd != int64(sent-1) {
		t.Errorf("OnBatchRestored: %d batches, %d records, last batch ends at %d", listener.batches, listener.batched, listener.lastEnd)
	}
	if len(listener.ends) != 1 || listener.ends[0] != res.Restored {
		t.Errorf("OnRestoreEnd calls: %v", listener.ends)
	}
	if err := td.WriteCheckpoint(Offsets{tp: res.Next}); err != nil {
		t.Fatal(err)
	}

	// A few more changes, then restore from the checkpoint: only the tail
	// is read (the in-memory store has to read everything again).
	logged = NewLoggingKeyValueStore(engineStore, topic, tp.Partition, sink, nil)
	writeKV(t, logged, want, 1, 200)
	sent2 := sink.flush(t)
	tail := sent2 - sent
	if err := logged.Close(); err != nil {
		t.Fatal(err)
	}
	td.Close()

	td, engineStore, trusted = open()
	defer td.Close()
	defer engineStore.Close()
	if want := engine != state.InMemory; trusted != want {
		t.Fatalf("trusted = %v, want %v", trusted, want)
	}
	start = 0
	if trusted {
		start = td.ReadCheckpoint()[tp]
	}
	res, err = r.Restore(ctxT(t), Job{Store: mustRestorable(t, engineStore), Partition: tp, Start: start})
	if err != nil {
		t.Fatal(err)
	}
	if trusted && res.Restored != int64(tail) || !trusted && res.Restored <= int64(tail) || res.Next != int64(sent2) {
		t.Fatalf("restore from checkpoint %d = %+v; want %d records read (all, when not trusted), next %d", start, res, tail, sent2)
	}
	compareContents(t, contents(t, engineStore), want)

	// At the end: nothing to read, returns at once.
	began := time.Now()
	res, err = r.Restore(ctxT(t), Job{Store: mustRestorable(t, engineStore), Partition: tp, Start: int64(sent2)})
	if err != nil || res.Restored != 0 || res.Next != int64(sent2) {
		t.Fatalf("restore at the end = %+v, %v", res, err)
	}
	if d := time.Since(began); d > time.Second {
		t.Errorf("restore with nothing to read took %v", d)
	}
}

func mustRestorable(t testing.TB, s state.Store) Restorable {
	t.Helper()
	r, err := NewRestorable(s)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestRestoreEmptyChangelog(t *testing.T) {
	c := kafkatest.New(t, 1)
	topic := c.Topic("empty-changelog")
	spec := state.Spec{Name: "s", Kind: state.KindKeyValue, Engine: state.InMemory}
	createChangelog(c, topic, 1, spec)
	r := newRestorer(t, c, RestorerConfig{})
	store := state.NewInMemoryKeyValueStore("s")
	began := time.Now()
	res, err := r.Restore(ctxT(t), Job{Store: mustRestorable(t, store), Partition: TopicPartition{topic, 0}})
	if err != nil || res.Next != 0 || res.Restored != 0 {
		t.Fatalf("restore of an empty changelog = %+v, %v", res, err)
	}
	if d := time.Since(began); d > time.Second {
		t.Errorf("took %v", d)
	}
}

func TestRestoreMissingTopic(t *testing.T) {
	c := kafkatest.New(t, 1)
	r := newRestorer(t, c, RestorerConfig{})
	store := state.NewInMemoryKeyValueStore("s")
	_, err := r.Restore(ctxT(t), Job{Store: mustRestorable(t, store), Partition: TopicPartition{c.Topic("nope"), 0}})
	if err == nil {
		t.Fatal("restoring from a missing topic succeeded")
	}
}

// Restoring several partitions at once; one of them needs nothing.
func TestRestoreAllPartitions(t *testing.T) {
	c := kafkatest.New(t, 0)
	appID := c.Topic("app")
	spec := state.Spec{Name: "s", Kind: state.KindKeyValue, Engine: state.InMemory}
	topic := ChangelogTopic(appID, spec.Name)
	createChangelog(c, topic, 3, spec)
	sink := newProducerSink(t, c)
	wants := make([]map[string]string, 3)
	for p := int32(0); p < 2; p++ { // partition 2 stays empty
		wants[p] = map[string]string{}
		writeKV(t, NewLoggingKeyValueStore(state.NewInMemoryKeyValueStore("s"), topic, p, sink, nil), wants[p], int(p), 1000+int(p)*500)
	}
	wants[2] = map[string]string{}
	sink.flush(t)

	r := newRestorer(t, c, RestorerConfig{})
	stores := make([]state.KeyValueStore, 3)
	jobs := make([]Job, 3)
	for p := range stores {
		stores[p] = state.NewInMemoryKeyValueStore("s")
		jobs[p] = Job{Store: mustRestorable(t, stores[p]), Partition: TopicPartition{topic, int32(p)}}
	}
	results, err := r.RestoreAll(ctxT(t), jobs)
	if err != nil {
		t.Fatal(err)
	}
	for p := range stores {
		compareContents(t, contents(t, stores[p]), wants[p])
		if results[p].Next != results[p].End {
			t.Errorf("partition %d: %+v", p, results[p])
		}
	}
	if results[2].Restored != 0 || results[2].Next != 0 {
		t.Errorf("empty partition: %+v", results[2])
	}
}

// A checkpoint below the log start offset (records deleted) or past the end
// (topic re-created) cannot be restored from.
func TestRestoreOffsetOutOfRange(t *testing.T) {
	c := kafkatest.New(t, 1)
	topic := c.Topic("oor-changelog")
	spec := state.Spec{Name: "s", Kind: state.KindKeyValue, Engine: state.InMemory}
	createChangelog(c, topic, 1, spec)
	sink := newProducerSink(t, c)
	writeKV(t, NewLoggingKeyValueStore(state.NewInMemoryKeyValueStore("s"), topic, 0, sink, nil), map[string]string{}, 0, 100)
	sent := sink.flush(t)
	tp := TopicPartition{topic, 0}

	r := newRestorer(t, c, RestorerConfig{})
	store := state.NewInMemoryKeyValueStore("s")
	if _, err := r.Restore(ctxT(t), Job{Store: mustRestorable(t, store), Partition: tp, Start: int64(sent + 5)}); !errors.Is(err, ErrOffsetOutOfRange) {
		t.Fatalf("restore from past the end = %v, want ErrOffsetOutOfRange", err)
	}

	adm := c.Admin()
	resp, err := adm.DeleteRecords(ctxT(t), kadm.Offsets{topic: {0: {Topic: topic, Partition: 0, At: 40, LeaderEpoch: -1}}})
	if err != nil || resp.Error() != nil {
		t.Fatalf("delete records: %v %v", err, resp.Error())
	}
	_, err = r.Restore(ctxT(t), Job{Store: mustRestorable(t, store), Partition: tp, Start: 10})
	var oor *OffsetOutOfRangeError
	if !errors.Is(err, ErrOffsetOutOfRange) || !errors.As(err, &oor) {
		t.Fatalf("restore from below the log start = %v, want ErrOffsetOutOfRange", err)
	}
	if oor.Store != "s" || oor.Partition != tp || oor.Offset != 10 || oor.Start != 40 || oor.End != int64(sent) {
		t.Errorf("error fields %+v", oor)
	}
	// From the beginning means the log start.
	res, err := r.Restore(ctxT(t), Job{Store: mustRestorable(t, store), Partition: tp})
	if err != nil || res.Start != 40 || res.Restored != int64(sent-40) {
		t.Fatalf("restore from the beginning = %+v, %v", res, err)
	}
}

// Long restorations log progress lines: records restored and left.
func TestRestoreProgressLog(t *testing.T) {
	c := kafkatest.New(t, 1)
	topic := c.Topic("progress-changelog")
	spec := state.Spec{Name: "s", Kind: state.KindKeyValue, Engine: state.InMemory}
	createChangelog(c, topic, 1, spec)
	sink := newProducerSink(t, c)
	logged := NewLoggingKeyValueStore(state.NewInMemoryKeyValueStore("s"), topic, 0, sink, nil)
	for round := 0; round < 5; round++ { // five batches at least
		writeKV(t, logged, map[string]string{}, round, 400)
		sink.flush(t)
	}

	var logs syncBuffer
	r := newRestorer(t, c, RestorerConfig{
		Logger:           slog.New(slog.NewTextHandler(&logs, nil)),
		ProgressInterval: time.Nanosecond,
		// Small fetches (one batch each), so that the restoration takes
		// several polls.
		ClientOpts: []kgo.Opt{kgo.FetchMaxPartitionBytes(4 << 10), kgo.FetchMaxBytes(4 << 10)},
	})
	res, err := r.Restore(ctxT(t), Job{Store: mustRestorable(t, state.NewInMemoryKeyValueStore("s")), Partition: TopicPartition{topic, 0}})
	if err != nil {
		t.Fatal(err)
	}
	out := logs.String()
	for _, want := range []string{"msg=\"restoring store\"", "records_left=" + fmt.Sprint(res.End), "msg=\"restore progress\"", "msg=\"restored store\"", fmt.Sprintf("records_restored=%d", res.Restored)} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %q:\n%s", want, out)
		}
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}
