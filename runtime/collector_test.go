package runtime

import (
	"log/slog"
	"testing"

	"github.com/kafki/kafki/changelog"
	"github.com/kafki/kafki/topology"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// A changelog partition's acknowledgements advance its checkpoint offset
// (through the sink's own promise, never backwards); other records'
// acknowledgements leave it alone. A failed record names the input record
// its Context carries to the production handler, or none.
func TestCollectorAcknowledgements(t *testing.T) {
	var asked []HandlerContext
	app := &App{metrics: newMetrics()}
	app.cfg.onProduce = func(ctx HandlerContext, _ *topology.RawRecord, _ error) HandlerResponse {
		asked = append(asked, ctx)
		return Continue
	}
	th := &streamThread{app: app, logger: slog.New(slog.DiscardHandler)}
	at := &activeTask{th: th, counters: app.metrics.task("0_0")}
	c := newCollector(nil, at)
	at.coll = c
	tp := changelog.TopicPartition{Topic: "app-counts-changelog", Partition: 3}
	sink := c.changelogSink(tp).(changelogSink)
	next := c.changelogs[tp]
	for _, ack := range []struct{ offset, want int64 }{{5, 6}, {2, 6}, {9, 10}} {
		sink.promise(&kgo.Record{Topic: tp.Topic, Partition: 3, Offset: ack.offset}, nil)
		if got := next.Load(); got != ack.want {
			t.Fatalf("after the ack of offset %d the checkpoint offset is %d, want %d", ack.offset, got, ack.want)
		}
	}
	c.promise(&kgo.Record{Topic: "out", Offset: 50}, nil)
	if got := next.Load(); got != 10 {
		t.Fatalf("an output record's ack moved the changelog's checkpoint offset to %d", got)
	}

	in := &kgo.Record{Topic: "in", Partition: 2, Offset: 7}
	sink.promise(&kgo.Record{Topic: tp.Topic, Partition: 3, Offset: 20, Context: sourceContext{in}}, kerr.MessageTooLarge)
	c.promise(&kgo.Record{Topic: "out", Context: sourceContext{}}, kerr.MessageTooLarge)
	if next.Load() != 10 {
		t.Fatal("a failed changelog record moved the checkpoint offset")
	}
	if len(asked) != 2 {
		t.Fatalf("production handler asked %d times, want 2", len(asked))
	}
	if h := asked[0]; h.Topic != "in" || h.Partition != 2 || h.Offset != 7 {
		t.Fatalf("handler context names %s/%d@%d, want the input record in/2@7", h.Topic, h.Partition, h.Offset)
	}
	if h := asked[1]; h.Topic != "" || h.Partition != -1 || h.Offset != -1 {
		t.Fatalf("handler context of a record no input caused names %s/%d@%d", h.Topic, h.Partition, h.Offset)
	}
}
