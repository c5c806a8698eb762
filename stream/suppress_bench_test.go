package stream_test

import (
	"strconv"
	"testing"
	"time"

	"github.com/kafki/kafki/serde"
	"github.com/kafki/kafki/state"
	"github.com/kafki/kafki/stream"
	"github.com/kafki/kafki/topology"
	"github.com/kafki/kafki/topology/topologytest"
)

// BenchmarkSuppressFinalResults runs kafki-bench's hopping-window count
// (60 s windows advancing by 10 s, suppressed until they close) through
// the test driver with a small record cache and a commit every 10,000
// records, so that cache evictions feed the suppression buffer as they do
// in production. "sparse" has records 100 ms apart over 10,000 keys (each
// (key, window) pair is mostly a result of its own, as kafki-bench's
// hopping-window-1p row); "dense" has them 1 ms apart over 1,000 keys
// (the cache folds most updates, as the hopping-window-dense row).
func BenchmarkSuppressFinalResults(b *testing.B) {
	for _, c := range []struct {
		name string
		step int64
		keys int
	}{{"sparse", 100, 10000}, {"dense", 1, 1000}} {
		b.Run(c.name, func(b *testing.B) {
			bl := stream.NewBuilder()
			s := stream.Stream(bl, "in", stream.ConsumedWith(serde.String(), serde.Int64()))
			w := stream.TumblingWindows(60*time.Second, 10*time.Second).AdvanceBy(10 * time.Second)
			counts := stream.CountWindowed(stream.WindowedBy(stream.GroupByKey(s), w), stream.MaterializedAs[string, int64]("counts").WithEngine(state.InMemory))
			counts.Suppress(stream.UntilWindowCloses(stream.BufferConfig{}).WithName("final")).ToStream().To("out")
			topo, err := bl.Build()
			if err != nil {
				b.Fatal(err)
			}
			d, err := topologytest.New(topo, topologytest.StoreOpener(openStores), topologytest.ManualFlush(), topologytest.CacheMaxBytes(256<<10))
			if err != nil {
				b.Fatal(err)
			}
			defer d.Close()
			keys := make([][]byte, c.keys)
			for i := range keys {
				keys[i] = []byte("word-" + strconv.Itoa(i*7919%c.keys))
			}
			v, _ := serde.Int64().Serialize("in", nil, 1)
			b.ReportAllocs()
			b.ResetTimer()
			produced := 0
			for i := 0; i < b.N; i++ {
				if err := d.PipeRaw(topology.RawRecord{Topic: "in", Key: keys[i%len(keys)], Value: v, Timestamp: int64(i) * c.step}); err != nil {
					b.Fatal(err)
				}
				if i%10000 == 9999 {
					if err := d.Flush(); err != nil {
						b.Fatal(err)
					}
					d.ReadChangelog("final-store")
					d.ReadChangelog("counts")
					produced += len(d.ReadRaw("out"))
				}
			}
			produced += len(d.ReadRaw("out"))
			b.ReportMetric(float64(produced)/float64(b.N), "out/op")
		})
	}
}
