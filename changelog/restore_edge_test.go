package changelog

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kafki/kafki/internal/kafkatest"
	"github.com/kafki/kafki/state"
)

// txnProducer produces to one partition inside transactions.
type txnProducer struct {
	t  *testing.T
	cl *kgo.Client
	tp TopicPartition
}

func newTxnProducer(t *testing.T, c *kafkatest.Cluster, tp TopicPartition, id string) *txnProducer {
	return &txnProducer{t: t, tp: tp, cl: c.Client(
		kgo.TransactionalID(id),
		kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.TransactionTimeout(60*time.Second),
	)}
}

func (p *txnProducer) begin() {
	if err := p.cl.BeginTransaction(); err != nil {
		p.t.Fatal(err)
	}
}

func (p *txnProducer) produce(key, value string) {
	var v []byte
	if value != "" {
		v = []byte(value)
	}
	rec := &kgo.Record{Topic: p.tp.Topic, Partition: p.tp.Partition, Key: []byte(key), Value: v}
	if err := p.cl.ProduceSync(context.Background(), rec).FirstErr(); err != nil {
		p.t.Fatal(err)
	}
}

func (p *txnProducer) end(commit bool) {
	if err := p.cl.EndTransaction(context.Background(), kgo.TransactionEndTry(commit)); err != nil {
		p.t.Fatal(err)
	}
}

// With read_committed, aborted records are skipped and the end offset,
// which points past the last transaction marker, is reached although no
// data record sits at end-1.
func TestRestoreTransactional(t *testing.T) {
	c := kafkatest.New(t, 1)
	topic := c.Topic("txn-changelog")
	// The second restore below reads the aborted records, which a log
	// cleaner may remove (Kafka's does), and kafkatest's cleaner runs every
	// 500 ms: keep this topic uncompacted so that both restores read the
	// same log.
	deleteOnly, keep := "delete", "-1"
	c.CreateTopic(topic, 1, map[string]*string{"cleanup.policy": &deleteOnly, "retention.ms": &keep})
	tp := TopicPartition{topic, 0}
	p := newTxnProducer(t, c, tp, c.Topic("txn"))
	want := map[string]string{}
	for round := 0; round < 6; round++ {
		commit := round%2 == 0
		p.begin()
		for i := 0; i < 50; i++ {
			k, v := fmt.Sprintf("k%03d", i), fmt.Sprintf("r%d", round)
			p.produce(k, v)
			if commit {
				want[k] = v
			}
		}
		if commit && round == 4 {
			p.produce("k000", "") // a tombstone in a committed transaction
			delete(want, "k000")
		}
		p.end(commit)
	}

	listener := &recordingListener{}
	r := newRestorer(t, c, RestorerConfig{ReadCommitted: true, Listener: listener})
	ends, err := r.EndOffsets(ctxT(t), tp)
	if err != nil {
		t.Fatal(err)
	}
	store := state.NewInMemoryKeyValueStore("s")
	res, err := r.Restore(ctxT(t), Job{Store: mustRestorable(t, store), Partition: tp})
	if err != nil {
		t.Fatal(err)
	}
	compareContents(t, contents(t, store), want)
	if res.Next != ends[tp] || res.Restored != 151 {
		t.Errorf("restore = %+v; want next %d and at most 151 committed records", res, ends[tp])
	}
	if listener.lastEnd >= ends[tp]-1 {
		t.Errorf("last restored record at %d, end %d: the end should be a marker", listener.lastEnd, ends[tp])
	}

	// read_uncommitted sees the aborted records too.
	r2 := newRestorer(t, c, RestorerConfig{})
	store2 := state.NewInMemoryKeyValueStore("s")
	res2, err := r2.Restore(ctxT(t), Job{Store: mustRestorable(t, store2), Partition: tp})
	if err != nil {
		t.Fatal(err)
	}
	if res2.Next != res.Next || res2.Restored <= res.Restored {
		t.Errorf("read_uncommitted restore = %+v, read_committed %+v", res2, res)
	}
	if v, _ := store2.Get([]byte("k001")); string(v) != "r5" {
		t.Errorf("read_uncommitted: k001 = %q, want the aborted r5", v)
	}
}

// The last stable offset can sit right after aborted records whose abort
// marker lies beyond it: the consumer moves past them without returning
// anything, and the restorer must notice it is at the end.
func TestRestoreEndsAfterInvisibleRecords(t *testing.T) {
	c := kafkatest.New(t, 1)
	topic := c.Topic("stall-changelog")
	spec := state.Spec{Name: "s", Kind: state.KindKeyValue, Engine: state.InMemory}
	createChangelog(c, topic, 1, spec)
	tp := TopicPartition{topic, 0}

	plain := newProducerSink(t, c)
	want := map[string]string{}
	writeKV(t, NewLoggingKeyValueStore(state.NewInMemoryKeyValueStore("s"), topic, 0, plain, nil), want, 0, 100)
	sent := plain.flush(t)

	aborted := newTxnProducer(t, c, tp, c.Topic("txn-a"))
	open := newTxnProducer(t, c, tp, c.Topic("txn-b"))
	aborted.begin()
	aborted.produce("key-00001", "aborted") // offset sent
	open.begin()
	open.produce("key-00002", "open") // offset sent+1: the last stable offset
	aborted.end(false)                // marker at sent+2
	defer open.end(false)

	r := newRestorer(t, c, RestorerConfig{ReadCommitted: true, StallTimeout: 200 * time.Millisecond})
	ends, err := r.EndOffsets(ctxT(t), tp)
	if err != nil {
		t.Fatal(err)
	}
	if ends[tp] != int64(sent+1) {
		t.Fatalf("last stable offset %d, want %d", ends[tp], sent+1)
	}
	store := state.NewInMemoryKeyValueStore("s")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	res, err := r.Restore(ctx, Job{Store: mustRestorable(t, store), Partition: tp})
	if err != nil {
		t.Fatal(err)
	}
	if res.Next != int64(sent+1) || res.Restored != int64(sent) {
		t.Errorf("restore = %+v, want next %d after %d records", res, sent+1, sent)
	}
	compareContents(t, contents(t, store), want)
}

// Compaction leaves gaps in the offsets; restoring across them, or from a
// checkpoint that falls into one, reads the latest value of every key.
func TestRestoreCompactedChangelog(t *testing.T) {
	c := kafkatest.New(t, 1)
	if c.Fake == nil {
		t.Skip("compaction cannot be forced on a real cluster")
	}
	topic := c.Topic("compacted-changelog")
	spec := state.Spec{Name: "s", Kind: state.KindKeyValue, Engine: state.InMemory}
	createChangelog(c, topic, 1, spec)
	tp := TopicPartition{topic, 0}
	sink := newProducerSink(t, c)
	want := map[string]string{}
	logged := NewLoggingKeyValueStore(state.NewInMemoryKeyValueStore("s"), topic, 0, sink, nil)
	for round := 0; round < 5; round++ {
		writeKV(t, logged, want, round, 400)
		sink.flush(t) // one batch per round at least
	}
	// The last record is an overwrite of a key written before.
	if err := logged.Put([]byte("key-00000"), []byte("last")); err != nil {
		t.Fatal(err)
	}
	want["key-00000"] = "last"
	sent := sink.flush(t)
	c.Fake.Compact()

	r := newRestorer(t, c, RestorerConfig{})
	store := state.NewInMemoryKeyValueStore("s")
	res, err := r.Restore(ctxT(t), Job{Store: mustRestorable(t, store), Partition: tp})
	if err != nil {
		t.Fatal(err)
	}
	if res.Next != int64(sent) {
		t.Errorf("next %d, want %d", res.Next, sent)
	}
	if res.Restored >= int64(sent) {
		t.Errorf("restored %d of %d records: compaction did not run", res.Restored, sent)
	}
	compareContents(t, contents(t, store), want)

	// From an offset inside the compacted range: the store has what was
	// there up to that offset, restoration adds the rest.
	from := int64(sent / 2)
	res2, err := r.Restore(ctxT(t), Job{Store: mustRestorable(t, store), Partition: tp, Start: from})
	if err != nil {
		t.Fatal(err)
	}
	if res2.Next != int64(sent) || res2.Restored > res.Restored {
		t.Errorf("restore from %d = %+v", from, res2)
	}
	compareContents(t, contents(t, store), want)
}

// Changelog records carry event times, which may be far in the past; a
// key-value changelog must keep them whatever their age (the embedded broker
// applies retention.ms to compacted topics too, see TopicConfigs).
func TestRestoreOldTimestamps(t *testing.T) {
	c := kafkatest.New(t, 1)
	topic := c.Topic("old-changelog")
	spec := state.Spec{Name: "s", Kind: state.KindKeyValue, Engine: state.InMemory}
	createChangelog(c, topic, 1, spec)
	sink := newProducerSink(t, c)
	want := map[string]string{}
	logged := NewLoggingKeyValueStore(state.NewInMemoryKeyValueStore("s"), topic, 0, sink, func() int64 { return 1000 })
	for round := 0; round < 3; round++ {
		writeKV(t, logged, want, round, 300)
		sink.flush(t)
	}
	if c.Fake != nil {
		c.Fake.Compact() // compaction and retention
	}
	r := newRestorer(t, c, RestorerConfig{})
	store := state.NewInMemoryKeyValueStore("s")
	if _, err := r.Restore(ctxT(t), Job{Store: mustRestorable(t, store), Partition: TopicPartition{topic, 0}}); err != nil {
		t.Fatal(err)
	}
	compareContents(t, contents(t, store), want)
}
