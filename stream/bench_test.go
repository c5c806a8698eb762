package stream_test

import (
	"testing"

	"github.com/kafki/kafki/serde"
	"github.com/kafki/kafki/stream"
	"github.com/kafki/kafki/topology"
)

type discard struct{ n int }

func (d *discard) Send(string, int32, []byte, []byte, []serde.Header, int64) error {
	d.n++
	return nil
}

// BenchmarkStatelessChain pushes records through five stateless operators
// (filter, mapValues, filter, mapValues, peek) on one task. The source
// deserialises with a bytes serde (no copy) and the chain ends in a
// Foreach, so the figures are the framework's own per-record cost.
func BenchmarkStatelessChain(b *testing.B) {
	bl := stream.NewBuilder()
	s := stream.Stream(bl, "in", stream.ConsumedWith(serde.Bytes(), serde.Int64()))
	s = s.Filter(func(_ []byte, v int64) bool { return v >= 0 })
	s = stream.MapValues(s, func(v int64) int64 { return v * 2 })
	s = s.Filter(func(_ []byte, v int64) bool { return v%3 != 1 })
	s = stream.MapValues(s, func(v int64) int64 { return v + 1 })
	var sum int64
	s.Peek(func(_ []byte, v int64) { sum += v }).Foreach(func([]byte, int64) {})
	topo, err := bl.Build()
	if err != nil {
		b.Fatal(err)
	}
	task, err := topo.NewTask(topology.TaskConfig{Collector: &discard{}})
	if err != nil {
		b.Fatal(err)
	}
	defer task.Close()
	v, _ := serde.Int64().Serialize("in", nil, 42)
	rec := &topology.RawRecord{Topic: "in", Key: []byte("key"), Value: v}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		rec.Timestamp = int64(i)
		if err := task.Process(rec); err != nil {
			b.Fatal(err)
		}
	}
	if sum == 0 {
		b.Fatal("nothing reached the end of the chain")
	}
}
