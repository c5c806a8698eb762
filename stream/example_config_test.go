package stream_test

import (
	"fmt"
	"time"

	"github.com/kafki/kafki/serde"
	"github.com/kafki/kafki/stream"
	"github.com/kafki/kafki/topology"
	"github.com/kafki/kafki/topology/topologytest"
)

type order struct {
	Customer string
	Amount   int64
}

// A serde per Go type, registered once: the source, the repartition topic
// of the grouping, the store and the sink all find theirs.
func ExampleDefaultSerde() {
	b := stream.NewBuilder(stream.DefaultSerde(serde.JSON[order]()))
	orders := stream.Stream[string, order](b, "orders")
	byCustomer := stream.GroupBy(orders, func(_ string, o order) string { return o.Customer })
	stream.Aggregate(byCustomer, func() int64 { return 0 },
		func(_ string, o order, total int64) int64 { return total + o.Amount },
		stream.MaterializedAs[string, int64]("totals").WithCachingDisabled()).
		ToStream().To("totals")
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
	in := topologytest.CreateInputTopic(d, "orders", serde.String(), serde.JSON[order]())
	out := topologytest.CreateOutputTopic(d, "totals", serde.String(), serde.Int64())
	_ = in.Pipe("o1", order{"ann", 5}, time.UnixMilli(1))
	_ = in.Pipe("o2", order{"bob", 7}, time.UnixMilli(2))
	_ = in.Pipe("o3", order{"ann", 3}, time.UnixMilli(3))
	kvs, _ := out.ReadKeyValues()
	for _, kv := range kvs {
		fmt.Println(kv.Key, kv.Value)
	}
	// Output:
	// ann 5
	// bob 7
	// ann 8
}

// A missing serde is one error, naming the first operator that needs it.
func ExampleBuilder_Build_missingSerde() {
	b := stream.NewBuilder() // no serde for order
	orders := stream.Stream(b, "in", stream.ConsumedWith(serde.String(), serde.JSON[order]()))
	byCustomer := stream.SelectKey(orders, func(_ string, o order) order { return o })
	stream.Count(stream.GroupByKey(byCustomer)).ToStream().To("out")
	_, err := b.Build()
	fmt.Println(err)
	// Output:
	// topology: missing serde: no serde for stream_test.order: "KSTREAM-AGGREGATE-0000000003" needs a key serde for store KSTREAM-AGGREGATE-STATE-STORE-0000000002; give it in the operator's configuration (ConsumedWith, ProducedWith, GroupedWith, MaterializedWith...) or register one with stream.DefaultSerde[stream_test.order]
}

// MapValuesRecord sees a tombstone as one, where MapValues would see an
// empty string.
func ExampleMapValuesRecord() {
	b := stream.NewBuilder()
	s := stream.Stream[string, string](b, "in")
	stream.MapValuesRecord(s, func(r topology.Record[string, string]) (string, bool) {
		return r.Value + "!", r.NullValue
	}).To("out")
	topo, _ := b.Build()
	d, _ := topologytest.New(topo)
	defer d.Close()
	in := topologytest.CreateInputTopic(d, "in", serde.String(), serde.String())
	out := topologytest.CreateOutputTopic(d, "out", serde.String(), serde.String())
	_ = in.Pipe("k", "v", time.UnixMilli(1))
	_ = in.PipeTombstone("k", time.UnixMilli(2))
	recs, _ := out.ReadRecords()
	for _, r := range recs {
		fmt.Println(r.Key, r.Value, r.NullValue)
	}
	// Output:
	// k v! false
	// k  true
}
