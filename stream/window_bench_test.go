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

// BenchmarkWindowsAndJoins compares, in one run and through the test
// driver (so with its per-record flush), a stateless passthrough, a
// hopping-window count (60 s windows advancing by 10 s, so six windows
// per record), a sliding-window count (10 s) and an inner stream-stream join (1 s windows), on in-memory
// stores. Records carry one of 1,000 keys and timestamps 1 ms apart; the
// join alternates left and right records. Compare records/s across the
// sub-benchmarks.
func BenchmarkWindowsAndJoins(b *testing.B) {
	b.Run("passthrough", func(b *testing.B) {
		bl := stream.NewBuilder()
		stream.Stream(bl, "in", stream.ConsumedWith(serde.String(), serde.Int64())).To("out")
		benchDriver(b, bl, "out", func(i int) string { return "in" })
	})
	b.Run("hopping-count-60s-by-10s", func(b *testing.B) {
		bl := stream.NewBuilder()
		s := stream.Stream(bl, "in", stream.ConsumedWith(serde.String(), serde.Int64()))
		w := stream.TumblingWindows(60*time.Second, 0).AdvanceBy(10 * time.Second)
		stream.CountWindowed(stream.WindowedBy(stream.GroupByKey(s), w), stream.Materialized[string, int64]{}.WithEngine(state.InMemory)).ToStream().To("out")
		benchDriver(b, bl, "out", func(i int) string { return "in" })
	})
	b.Run("sliding-count-10s", func(b *testing.B) {
		bl := stream.NewBuilder()
		s := stream.Stream(bl, "in", stream.ConsumedWith(serde.String(), serde.Int64()))
		w := stream.SlidingWindowsWithTimeDifference(10*time.Second, 0)
		stream.CountSliding(stream.SlidingWindowedBy(stream.GroupByKey(s), w), stream.Materialized[string, int64]{}.WithEngine(state.InMemory)).ToStream().To("out")
		benchDriver(b, bl, "out", func(i int) string { return "in" })
	})
	b.Run("stream-stream-join-1s", func(b *testing.B) {
		bl := stream.NewBuilder()
		l := stream.Stream(bl, "left", stream.ConsumedWith(serde.String(), serde.Int64()))
		r := stream.Stream(bl, "right", stream.ConsumedWith(serde.String(), serde.Int64()))
		stream.Join(l, r, func(a, c int64) int64 { return a + c }, stream.JoinTimeDifference(time.Second, 0), stream.StreamJoined[string, int64, int64]{}.WithEngine(state.InMemory)).To("out")
		benchDriver(b, bl, "out", func(i int) string {
			if i%2 == 0 {
				return "left"
			}
			return "right"
		})
	})
}

func benchDriver(b *testing.B, bl *stream.Builder, out string, topic func(int) string) {
	topo, err := bl.Build()
	if err != nil {
		b.Fatal(err)
	}
	d, err := topologytest.New(topo, topologytest.StoreOpener(openStores))
	if err != nil {
		b.Fatal(err)
	}
	defer d.Close()
	keys := make([][]byte, 1000)
	for i := range keys {
		keys[i] = []byte("key-" + strconv.Itoa(i))
	}
	v, _ := serde.Int64().Serialize("in", nil, 1)
	b.ReportAllocs()
	b.ResetTimer()
	produced := 0
	for i := 0; i < b.N; i++ {
		if err := d.PipeRaw(topology.RawRecord{Topic: topic(i), Key: keys[(i/2)%len(keys)], Value: v, Timestamp: int64(i)}); err != nil {
			b.Fatal(err)
		}
		if i%1024 == 0 {
			produced += len(d.ReadRaw(out))
		}
	}
	produced += len(d.ReadRaw(out))
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
	if produced == 0 && b.N >= 100 { // the first, one-record round of a join cannot join
		b.Fatal("nothing was written to " + out)
	}
}
