package stream_test

import (
	"fmt"
	"time"

	"github.com/kafki/kafki/serde"
	"github.com/kafki/kafki/stream"
	"github.com/kafki/kafki/topology/topologytest"
)

// Page views counted per user in one-minute windows; Suppress emits one
// final count per window, once stream time passes its end plus grace.
func Example_windowedCount() {
	b := stream.NewBuilder()
	views := stream.Stream(b, "page-views", stream.ConsumedWith(serde.String(), serde.String()))
	perMinute := stream.WindowedBy(stream.GroupByKey(views), stream.TumblingWindows(time.Minute, 10*time.Second))
	stream.CountWindowed(perMinute, stream.MaterializedAs[string, int64]("views-per-minute")).
		Suppress(stream.UntilWindowCloses(stream.BufferConfig{})).
		ToStream().To("views-final")
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
	in := topologytest.CreateInputTopic(d, "page-views", serde.String(), serde.String())
	out := topologytest.CreateOutputTopic(d, "views-final", stream.WindowedSerde(serde.String(), time.Minute), serde.Int64())
	for _, v := range []struct {
		user string
		at   time.Duration
	}{{"alice", 5 * time.Second}, {"bob", 20 * time.Second}, {"alice", 50 * time.Second}, {"alice", 65 * time.Second},
		{"bob", 58 * time.Second}, {"carol", 75 * time.Second}} {
		if err := in.Pipe(v.user, "/index.html", time.UnixMilli(v.at.Milliseconds())); err != nil {
			fmt.Println(err)
			return
		}
	}
	final, err := out.ReadKeyValues()
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, kv := range final {
		fmt.Println(kv.Key, kv.Value)
	}
	// Output:
	// [alice@0/60000] 2
	// [bob@0/60000] 2
}

// Ad impressions joined with the clicks that follow them within ten
// seconds; a left join reports impressions without a click once their
// window has closed.
func Example_streamStreamJoin() {
	b := stream.NewBuilder()
	impressions := stream.Stream(b, "impressions", stream.ConsumedWith(serde.String(), serde.String()))
	clicks := stream.Stream(b, "clicks", stream.ConsumedWith(serde.String(), serde.String()))
	w := stream.JoinTimeDifference(0, 0).WithAfter(10 * time.Second)
	stream.LeftJoin(impressions, clicks, func(ad string, click *string) string {
		if click == nil {
			return ad + " not clicked"
		}
		return ad + " clicked on " + *click
	}, w).To("ad-results")
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
	imp := topologytest.CreateInputTopic(d, "impressions", serde.String(), serde.String())
	clk := topologytest.CreateInputTopic(d, "clicks", serde.String(), serde.String())
	out := topologytest.CreateOutputTopic(d, "ad-results", serde.String(), serde.String())
	steps := []error{
		imp.Pipe("u1", "ad-1", time.UnixMilli(1000)),
		imp.Pipe("u2", "ad-2", time.UnixMilli(2000)),
		clk.Pipe("u1", "mobile", time.UnixMilli(4000)),
		imp.Pipe("u3", "ad-3", time.UnixMilli(30000)),
	}
	for _, err := range steps {
		if err != nil {
			fmt.Println(err)
			return
		}
	}
	results, err := out.ReadKeyValues()
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, kv := range results {
		fmt.Println(kv.Key, kv.Value)
	}
	// Output:
	// u1 ad-1 clicked on mobile
	// u2 ad-2 not clicked
}
