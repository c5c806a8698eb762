package stream_test

import (
	"strconv"
	"testing"
	"time"

	"github.com/kafki/kafki/serde"
	"github.com/kafki/kafki/stream"
	"github.com/kafki/kafki/topology"
	"github.com/kafki/kafki/topology/topologytest"
)

// ticker emits "tick" with the punctuation time on every stream-time
// punctuation, and passes records through.
type ticker struct {
	ctx topology.ProcessorContext[string, int64]
}

func (p *ticker) Init(ctx topology.ProcessorContext[string, int64]) error {
	p.ctx = ctx
	_, err := ctx.Schedule(10*time.Millisecond, topology.StreamTime, func(ts time.Time) error {
		return ctx.Forward(topology.Record[string, int64]{Key: "tick", Value: ctx.CurrentStreamTime().UnixMilli(), Timestamp: ts})
	})
	return err
}

func (p *ticker) Process(rec topology.Record[string, int64]) error { return p.ctx.Forward(rec) }
func (p *ticker) Close() error                                     { return nil }

// TestTimestampExtractorDrivesStreamTime: every record has the same Kafka
// timestamp and carries its event time in its value; the stream-time
// punctuator must fire as the extracted times pass multiples of its
// interval, not once at the Kafka timestamp.
func TestTimestampExtractorDrivesStreamTime(t *testing.T) {
	b := stream.NewBuilder()
	s := stream.Stream(b, "in", stream.ConsumedWith(serde.String(), serde.Int64()).
		WithTimestampExtractor(func(_ string, v int64, _ time.Time) time.Time { return time.UnixMilli(v) }))
	stream.Process(s, func() topology.Processor[string, int64, string, int64] { return &ticker{} }).To("out")
	d := newDriver(t, b)
	in := topologytest.CreateInputTopic(d, "in", serde.String(), serde.Int64())
	out := topologytest.CreateOutputTopic(d, "out", serde.String(), serde.Int64())
	const kafkaTime = 1_000_000
	for _, v := range []int64{5, 8, 12, 9, -3, 31} {
		pipe(t, in, "a", v, kafkaTime)
	}
	// The punctuation at 5 runs after the record at 5 (it follows the
	// record that moved stream time); -3 is dropped and moves nothing.
	expect(t, "records and ticks", readAll(t, out),
		"a=5@5 tick=5@5 a=8@8 a=12@12 tick=12@12 a=9@9 a=31@31 tick=31@31")
	if n := d.Dropped(topology.DropNegativeTimestamp); n != 1 {
		t.Errorf("negative extracted timestamps counted: %d, want 1", n)
	}
}

// TestTableTimestampExtractor: a table's source extracts too, and the
// table's updates carry the extracted time.
func TestTableTimestampExtractor(t *testing.T) {
	b := stream.NewBuilder()
	tbl := stream.Table(b, "in", stream.ConsumedWith(serde.String(), serde.String()).
		WithTimestampExtractor(func(_ string, v string, ts time.Time) time.Time {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				return ts
			}
			return time.UnixMilli(n)
		}), stream.MaterializedAs[string, string]("t").WithCachingDisabled())
	tbl.ToStream().To("out")
	d := newDriver(t, b)
	in := topologytest.CreateInputTopic(d, "in", serde.String(), serde.String())
	out := topologytest.CreateOutputTopic(d, "out", serde.String(), serde.String())
	pipe(t, in, "k", "42", 7)
	pipe(t, in, "k", "x", 7)
	expect(t, "table updates", readAll(t, out), "k=42@42 k=x@7")
}
