package serde_test

import (
	"testing"

	"github.com/kafki/kafki/serde"
)

var (
	sinkBytes []byte
	sinkI64   int64
	sinkStr   string
	sinkF64   float64
	sinkDoc   order
)

func BenchmarkInt64Serialize(b *testing.B) {
	s := serde.Int64()
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		sinkBytes, _ = s.Serialize("t", nil, int64(i))
	}
}

func BenchmarkInt64AppendSerialize(b *testing.B) {
	s := serde.Int64().(serde.Appender[int64])
	buf := make([]byte, 0, 8)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		sinkBytes, _ = s.AppendSerialize(buf[:0], "t", nil, int64(i))
	}
}

func BenchmarkInt64Deserialize(b *testing.B) {
	s := serde.Int64()
	data := []byte{0, 0, 0, 0, 0, 0, 1, 2}
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		sinkI64, _ = s.Deserialize("t", nil, data)
	}
}

func BenchmarkFloat64Deserialize(b *testing.B) {
	s := serde.Float64()
	data := []byte{0x3f, 0xf0, 0, 0, 0, 0, 0, 0}
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		sinkF64, _ = s.Deserialize("t", nil, data)
	}
}

func BenchmarkStringSerialize(b *testing.B) {
	s := serde.String()
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		sinkBytes, _ = s.Serialize("t", nil, "the quick brown fox")
	}
}

func BenchmarkStringDeserialize(b *testing.B) {
	s := serde.String()
	data := []byte("the quick brown fox")
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		sinkStr, _ = s.Deserialize("t", nil, data)
	}
}

func BenchmarkJSONSerialize(b *testing.B) {
	s := serde.JSON[order]()
	v := order{ID: "a1", Qty: 3, Price: 9.5}
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		sinkBytes, _ = s.Serialize("t", nil, v)
	}
}

func BenchmarkJSONDeserialize(b *testing.B) {
	s := serde.JSON[order]()
	data := []byte(`{"id":"a1","qty":3,"price":9.5}`)
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		sinkDoc, _ = s.Deserialize("t", nil, data)
	}
}
