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
