package stream_test

import (
	"fmt"
	"strings"

	"github.com/kafki/kafki/serde"
	"github.com/kafki/kafki/stream"
	"github.com/kafki/kafki/topology"
	"github.com/kafki/kafki/topology/topologytest"
)

// Word count: split lines into words, group by word, count, write the
// counts to an output topic — run here with the test driver.
func Example_wordCount() {
	b := stream.NewBuilder()
	lines := stream.Stream(b, "streams-plaintext-input", stream.ConsumedWith(serde.String(), serde.String()))
	words := stream.FlatMapValues(lines, func(line string) []string { return strings.Fields(strings.ToLower(line)) })
	byWord := stream.GroupBy(words, func(_, word string) string { return word })
	stream.Count(byWord, stream.MaterializedAs[string, int64]("counts-store")).ToStream().To("streams-wordcount-output")
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
	in := topologytest.CreateInputTopic(d, "streams-plaintext-input", serde.String(), serde.String())
	out := topologytest.CreateOutputTopic(d, "streams-wordcount-output", serde.String(), serde.Int64())
	for _, line := range []string{"Hello Kafki", "hello streams"} {
		if err := in.PipeRecord(topology.Record[string, string]{Value: line, NullKey: true}); err != nil {
			fmt.Println(err)
			return
		}
	}
	counts, err := out.ReadKeyValues()
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, kv := range counts {
		fmt.Println(kv.Key, kv.Value)
	}
	// Output:
	// hello 1
	// kafki 1
	// hello 2
	// streams 1
}
