package runtime

import (
	"strconv"
	"testing"
	"time"

	"github.com/kafki/kafki/serde"
	"github.com/kafki/kafki/stream"
	"github.com/kafki/kafki/topology"
	"github.com/twmb/franz-go/pkg/kgo"
)

// sent records what a task writes.
type sent struct{ values []string }

func (s *sent) Send(_ string, _ int32, _, value []byte, _ []serde.Header, _ int64) error {
	s.values = append(s.values, string(value))
	return nil
}

// A task with two input partitions takes their records in the order of
// the times its timestamp extractor gives them, not of their Kafka
// timestamps, which here say the opposite.
func TestProcessOrdersByExtractedTime(t *testing.T) {
	b := stream.NewBuilder()
	byValue := stream.ConsumedWith(serde.String(), serde.String()).WithTimestampExtractor(func(_, v string, _ time.Time) time.Time {
		n, _ := strconv.ParseInt(v, 10, 64)
		return time.UnixMilli(n)
	})
	left := stream.Stream(b, "left", byValue)
	right := stream.Stream(b, "right", byValue)
	left.Merge(right).To("out")
	topo, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	out := &sent{}
	task, err := topo.NewTask(topology.TaskConfig{ID: topology.TaskID{}, ApplicationID: "order", Collector: out})
	if err != nil {
		t.Fatal(err)
	}
	defer task.Close()
	at := &activeTask{task: task, counters: newMetrics().task("0_0")}
	at.coll = newCollector(nil, at) // marks the input record of what it sends
	// Kafka timestamps: right's records are older than left's; extracted
	// times (the values) interleave the other way round.
	rec := func(topic, v string, kafkaTS int64, off int64) *kgo.Record {
		return &kgo.Record{Topic: topic, Key: []byte("k"), Value: []byte(v), Timestamp: time.UnixMilli(kafkaTS), Offset: off}
	}
	lq := &partQueue{topic: "left", recs: []*kgo.Record{rec("left", "10", 5000, 0), rec("left", "30", 6000, 1), rec("left", "50", 7000, 2)}}
	rq := &partQueue{topic: "right", recs: []*kgo.Record{rec("right", "20", 1000, 0), rec("right", "40", 2000, 1)}}
	at.queues = []*partQueue{lq, rq}
	n, err := at.process(100)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"10", "20", "30", "40", "50"}
	if n != len(want) || len(out.values) != len(want) {
		t.Fatalf("processed %d, sent %v; want %v", n, out.values, want)
	}
	for i := range want {
		if out.values[i] != want[i] {
			t.Fatalf("sent %v, want %v (extracted-time order)", out.values, want)
		}
	}
	if lq.next.Offset != 3 || rq.next.Offset != 2 {
		t.Fatalf("next offsets left %d right %d, want 3 and 2", lq.next.Offset, rq.next.Offset)
	}
}

// Each input partition's commit carries its own partition time (the
// largest extracted time taken from it), as Kafka Streams' RecordQueue
// and StreamTask.commit, not the task's stream time.
func TestPartitionTimesInCommitMetadata(t *testing.T) {
	b := stream.NewBuilder()
	byValue := stream.ConsumedWith(serde.String(), serde.String()).WithTimestampExtractor(func(_, v string, _ time.Time) time.Time {
		n, _ := strconv.ParseInt(v, 10, 64)
		return time.UnixMilli(n)
	})
	left := stream.Stream(b, "left", byValue)
	right := stream.Stream(b, "right", byValue)
	left.Merge(right).To("out")
	topo, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	task, err := topo.NewTask(topology.TaskConfig{ID: topology.TaskID{}, ApplicationID: "times", Collector: &sent{},
		ResumeStreamTime: 35, ResumeProcessorMetadata: map[string]int64{"counts": 9}})
	if err != nil {
		t.Fatal(err)
	}
	defer task.Close()
	at := &activeTask{task: task, counters: newMetrics().task("0_0")}
	at.coll = newCollector(nil, at)
	rec := func(topic, v string, off int64) *kgo.Record {
		return &kgo.Record{Topic: topic, Key: []byte("k"), Value: []byte(v), Timestamp: time.UnixMilli(1), Offset: off}
	}
	// right resumes at its committed time 35; left had none; idle had a
	// time committed and takes nothing now.
	lq := &partQueue{topic: "left", partTime: -1, recs: []*kgo.Record{rec("left", "10", 0), rec("left", "-5", 1), rec("left", "30", 2)}}
	rq := &partQueue{topic: "right", partTime: 35, recs: []*kgo.Record{rec("right", "20", 0)}}
	at.queues = []*partQueue{lq, rq}
	if _, err := at.process(100); err != nil {
		t.Fatal(err)
	}
	if lq.partTime != 30 || rq.partTime != 35 || task.StreamTime() != 35 {
		t.Fatalf("partition times left %d right %d, stream time %d; want 30, 35 and 35", lq.partTime, rq.partTime, task.StreamTime())
	}
	for _, c := range []struct {
		q    *partQueue
		want int64
	}{{lq, 30}, {rq, 35}} {
		m, ok := c.q.commitMetadata(task.ProcessorMetadata())
		ts, meta, err := decodeCommitMetadata(m)
		if !ok || err != nil || ts != c.want || meta["counts"] != 9 || len(meta) != 1 {
			t.Errorf("%s commits %q (%d %v, %v), want time %d and counts=9", c.q.topic, m, ts, meta, err, c.want)
		}
	}
	if _, ok := (&partQueue{partTime: -1}).commitMetadata(nil); ok {
		t.Error("metadata committed for a partition with no time and no processor metadata")
	}
}
