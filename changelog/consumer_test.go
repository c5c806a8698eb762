package changelog

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kafki/kafki/internal/kafkatest"
	"github.com/kafki/kafki/state"
)

// pollUntil polls c until every restoration in rs is done, and returns
// them in the order they finished.
func pollUntil(t *testing.T, c *RestoreConsumer, rs ...*Restoration) []*Restoration {
	t.Helper()
	var order []*Restoration
	left := 0
	for _, r := range rs {
		if !r.Done() {
			left++
		}
	}
	for polls := 0; left > 0; polls++ {
		if polls > 600 {
			t.Fatalf("restorations not done after %d polls", polls)
		}
		done, ferrs, err := c.Poll(ctxT(t), 100*time.Millisecond)
		if err != nil {
			t.Fatal(err)
		}
		for _, fe := range ferrs {
			t.Fatal(fe)
		}
		for _, d := range done {
			if d.Err != nil {
				t.Fatal(d.Err)
			}
			order = append(order, d)
			left--
		}
	}
	return order
}

// One long-lived restore consumer restores several tasks' stores at once,
// follows a standby partition between restorations, and can cancel a
// restoration and restore the same partition again from the beginning
// without anything fetched for the cancelled one reaching the store.
func TestRestoreConsumerRestoresTogetherAndFollows(t *testing.T) {
	c := kafkatest.New(t, 0)
	appID := c.Topic("app")
	spec := state.Spec{Name: "s", Kind: state.KindKeyValue, Engine: state.InMemory}
	topic := ChangelogTopic(appID, spec.Name)
	createChangelog(c, topic, 3, spec)
	sink := newProducerSink(t, c)
	wants := make([]map[string]string, 3)
	for p := int32(0); p < 3; p++ {
		wants[p] = map[string]string{}
		writeKV(t, NewLoggingKeyValueStore(state.NewInMemoryKeyValueStore("s"), topic, p, sink, nil), wants[p], int(p), 200+int(p)*3000)
	}
	sink.flush(t)

	l := &recordingListener{}
	r := newRestorer(t, c, RestorerConfig{BatchSize: 500, Listener: l})
	cons, err := r.NewConsumer()
	if err != nil {
		t.Fatal(err)
	}
	defer cons.Close()
	job := func(p int32) (Job, state.KeyValueStore) {
		s := state.NewInMemoryKeyValueStore("s")
		return Job{Store: mustRestorable(t, s), Partition: TopicPartition{topic, p}}, s
	}
	// Two tasks at once, and a third partition followed as a standby.
	j0, s0 := job(0)
	j1, s1 := job(1)
	r0, err := cons.Restore(ctxT(t), []Job{j0})
	if err != nil {
		t.Fatal(err)
	}
	r1, err := cons.Restore(ctxT(t), []Job{j1})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cons.Restore(ctxT(t), []Job{j0}); err == nil {
		t.Fatal("a partition being restored was accepted twice")
	}
	standby := state.NewInMemoryKeyValueStore("s")
	sr := mustRestorable(t, standby)
	var next int64
	if err := cons.Follow(TopicPartition{topic, 2}, 0, func(recs []*kgo.Record, n, _ int64) error {
		next = n
		return sr.RestoreBatch(recs)
	}); err != nil {
		t.Fatal(err)
	}
	pollUntil(t, cons, r0, r1)
	compareContents(t, contents(t, s0), wants[0])
	compareContents(t, contents(t, s1), wants[1])
	if r1.Results[0].Next != r1.Results[0].End || r1.Results[0].Restored == 0 {
		t.Errorf("partition 1: %+v", r1.Results[0])
	}

	// Both restorations went through batches of at most 500 records,
	// reported to the listener with counts that add up.
	l.mu.Lock()
	if len(l.starts) != 2 || len(l.ends) != 2 || l.batched != l.ends[0]+l.ends[1] || l.batches < 7 {
		t.Errorf("listener: starts %v, ends %v, %d records in %d batches", l.starts, l.ends, l.batched, l.batches)
	}
	l.mu.Unlock()

	// Cancel a restoration of partition 1 (its fetch may be under way)
	// and restore the partition again into a new store.
	j1, _ = job(1)
	r1, err = cons.Restore(ctxT(t), []Job{j1})
	if err != nil {
		t.Fatal(err)
	}
	cons.Cancel(r1)
	if !errors.Is(r1.Err, context.Canceled) {
		t.Errorf("cancelled restoration: err %v", r1.Err)
	}
	j1, s1 = job(1)
	r1, err = cons.Restore(ctxT(t), []Job{j1})
	if err != nil {
		t.Fatal(err)
	}
	pollUntil(t, cons, r1)
	compareContents(t, contents(t, s1), wants[1])

	// The standby has caught up, and follows what is written next.
	ends, err := r.EndOffsets(ctxT(t), TopicPartition{topic, 2})
	if err != nil {
		t.Fatal(err)
	}
	writeKV(t, NewLoggingKeyValueStore(state.NewInMemoryKeyValueStore("s"), topic, 2, sink, nil), wants[2], 9, 50)
	end := ends[TopicPartition{topic, 2}] + 50
	sink.flush(t)
	for polls := 0; next < end; polls++ {
		if polls > 600 {
			t.Fatalf("standby at %d, changelog end %d", next, end)
		}
		if _, ferrs, err := cons.Poll(ctxT(t), 100*time.Millisecond); err != nil || len(ferrs) > 0 {
			t.Fatal(err, ferrs)
		}
	}
	compareContents(t, contents(t, standby), wants[2])
	cons.Unfollow(TopicPartition{topic, 2})
	if cons.Busy() {
		t.Error("consumer busy with nothing assigned")
	}
}
