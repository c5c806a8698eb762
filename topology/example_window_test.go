package topology_test

import (
	"errors"
	"fmt"
	"time"

	"github.com/kafki/kafki/serde"
	"github.com/kafki/kafki/state"
	"github.com/kafki/kafki/topology"
	"github.com/kafki/kafki/topology/topologytest"
)

// perMinute counts records per key and minute in a window store and, as
// stream time passes each minute, forwards the counts of the minute
// before.
type perMinute struct {
	ctx    topology.ProcessorContext[string, int64]
	counts *state.TypedWindowStore[string, int64]
}

func (p *perMinute) Init(ctx topology.ProcessorContext[string, int64]) (err error) {
	p.ctx = ctx
	if p.counts, err = topology.WindowStore(ctx, "minute-counts", serde.String(), serde.Int64()); err != nil {
		return err
	}
	_, err = ctx.Schedule(time.Minute, topology.StreamTime, p.emit)
	return err
}

func (p *perMinute) Process(rec topology.Record[string, string]) error {
	start := rec.Timestamp.Truncate(time.Minute)
	n, _, err := p.counts.Fetch(rec.Key, start)
	if err != nil {
		return err
	}
	return p.counts.Put(rec.Key, n+1, start)
}

// emit runs once stream time reaches each whole minute, with the stream
// time (of the record that got it there), and forwards the minute before.
func (p *perMinute) emit(now time.Time) error {
	last := now.Truncate(time.Minute).Add(-time.Minute)
	it, err := p.counts.FetchAll(last, last)
	if err != nil {
		return err
	}
	for it.Next() {
		if err := p.ctx.Forward(topology.Record[string, int64]{Key: it.Key(), Value: it.Value(), Timestamp: now}); err != nil {
			return errors.Join(err, it.Close())
		}
	}
	return errors.Join(it.Err(), it.Close())
}

func (p *perMinute) Close() error { return nil }

// A window store reached in one typed call and a stream-time punctuator:
// the punctuator fires when record timestamps cross a whole minute (and at
// the first record), never on its own.
func ExampleWindowStore() {
	b := topology.NewBuilder()
	topology.AddSource(b, "in", serde.String(), serde.String(), "views")
	topology.AddProcessor(b, "count", func() topology.Processor[string, string, string, int64] { return &perMinute{} }, "in")
	b.AddStateStore(state.Spec{Name: "minute-counts", Kind: state.KindWindow,
		Retention: time.Hour, WindowSize: time.Minute}, "count")
	topology.AddSink(b, "out", "views-per-minute", serde.String(), serde.Int64(), "count")
	topo, err := b.Build()
	if err != nil {
		fmt.Println(err)
		return
	}
	d, err := topologytest.New(topo)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer d.Close()
	in := topologytest.CreateInputTopic(d, "views", serde.String(), serde.String())
	out := topologytest.CreateOutputTopic(d, "views-per-minute", serde.String(), serde.Int64())
	for _, v := range []struct {
		page string
		at   int64
	}{{"/a", 1_000}, {"/b", 2_000}, {"/a", 59_000}, {"/a", 61_000}, {"/b", 125_000}} {
		_ = in.Pipe(v.page, "", time.UnixMilli(v.at))
	}
	kvs, _ := out.ReadKeyValues()
	for _, kv := range kvs {
		fmt.Println(kv.Key, kv.Value)
	}
	// Output:
	// /a 2
	// /b 1
	// /a 1
}
