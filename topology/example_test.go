package topology_test

import (
	"fmt"
	"time"

	"github.com/kafki/kafki/serde"
	"github.com/kafki/kafki/state"
	"github.com/kafki/kafki/topology"
	"github.com/kafki/kafki/topology/topologytest"
)

// counter counts records per key in a store and, every second of wall-clock
// time, forwards the count of every key it saw.
type counter struct {
	ctx    topology.ProcessorContext[string, int64]
	counts *state.TypedKeyValueStore[string, int64]
}

func (c *counter) Init(ctx topology.ProcessorContext[string, int64]) (err error) {
	c.ctx = ctx
	if c.counts, err = topology.KeyValueStore(ctx, "counts", serde.String(), serde.Int64()); err != nil {
		return err
	}
	_, err = ctx.Schedule(time.Second, topology.WallClockTime, func(now time.Time) error {
		it, err := c.counts.All()
		if err != nil {
			return err
		}
		defer it.Close()
		for it.Next() {
			if err := ctx.Forward(topology.Record[string, int64]{Key: it.Key(), Value: it.Value(), Timestamp: now}); err != nil {
				return err
			}
		}
		return it.Err()
	})
	return err
}

func (c *counter) Process(rec topology.Record[string, string]) error {
	n, _, err := c.counts.Get(rec.Key)
	if err != nil {
		return err
	}
	return c.counts.Put(rec.Key, n+1)
}

func (c *counter) Close() error { return nil }

// A processor with a store reached in one typed call and a wall-clock
// punctuator, run with the test driver.
func ExampleKeyValueStore() {
	b := topology.NewBuilder()
	topology.AddSource(b, "in", serde.String(), serde.String(), "words")
	topology.AddProcessor(b, "count", func() topology.Processor[string, string, string, int64] { return &counter{} }, "in")
	b.AddStateStore(state.Spec{Name: "counts", Kind: state.KindKeyValue}, "count")
	topology.AddSink(b, "out", "word-counts", serde.String(), serde.Int64(), "count")
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
	in := topologytest.CreateInputTopic(d, "words", serde.String(), serde.String())
	out := topologytest.CreateOutputTopic(d, "word-counts", serde.String(), serde.Int64())
	for _, w := range []string{"a", "b", "a"} {
		_ = in.Pipe(w, "", time.UnixMilli(1))
	}
	_ = d.AdvanceWallClockTime(time.Second)
	kvs, _ := out.ReadKeyValues()
	for _, kv := range kvs {
		fmt.Println(kv.Key, kv.Value)
	}
	// Output:
	// a 2
	// b 1
}
