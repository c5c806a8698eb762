package stream_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/kafki/kafki/serde"
	"github.com/kafki/kafki/stream"
	"github.com/kafki/kafki/topology"
	"github.com/kafki/kafki/topology/topologytest"
)

func wordCount(t testing.TB) *topology.Topology {
	b := stream.NewBuilder()
	lines := stream.Stream(b, "streams-plaintext-input", stream.ConsumedWith(serde.String(), serde.String()))
	words := stream.FlatMapValues(lines, func(line string) []string { return strings.Fields(strings.ToLower(line)) })
	counts := stream.Count(stream.GroupBy(words, func(_, w string) string { return w }), stream.MaterializedAs[string, int64]("counts-store"))
	counts.ToStream().To("streams-wordcount-output")
	topo, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	return topo
}

const wordCountDescription = `Topologies:
   Sub-topology: 0
    Source: KSTREAM-SOURCE-0000000000 (topics: [streams-plaintext-input])
      --> KSTREAM-FLATMAPVALUES-0000000001
    Processor: KSTREAM-FLATMAPVALUES-0000000001 (stores: [])
      --> KSTREAM-KEY-SELECT-0000000002
      <-- KSTREAM-SOURCE-0000000000
    Processor: KSTREAM-KEY-SELECT-0000000002 (stores: [])
      --> KSTREAM-FILTER-0000000005
      <-- KSTREAM-FLATMAPVALUES-0000000001
    Processor: KSTREAM-FILTER-0000000005 (stores: [])
      --> KSTREAM-SINK-0000000004
      <-- KSTREAM-KEY-SELECT-0000000002
    Sink: KSTREAM-SINK-0000000004 (topic: counts-store-repartition)
      <-- KSTREAM-FILTER-0000000005

  Sub-topology: 1
    Source: KSTREAM-SOURCE-0000000006 (topics: [counts-store-repartition])
      --> KSTREAM-AGGREGATE-0000000003
    Processor: KSTREAM-AGGREGATE-0000000003 (stores: [counts-store])
      --> KTABLE-TOSTREAM-0000000007
      <-- KSTREAM-SOURCE-0000000006
    Processor: KTABLE-TOSTREAM-0000000007 (stores: [])
      --> KSTREAM-SINK-0000000008
      <-- KSTREAM-AGGREGATE-0000000003
    Sink: KSTREAM-SINK-0000000008 (topic: streams-wordcount-output)
      <-- KTABLE-TOSTREAM-0000000007

`

func TestWordCountDescribe(t *testing.T) {
	topo := wordCount(t)
	if got := topo.Describe().String(); got != wordCountDescription {
		t.Fatalf("Describe:\n%s\nwant:\n%s", got, wordCountDescription)
	}
	// Generated names are stable across builds of the same program.
	if again := wordCount(t).Describe().String(); again != wordCountDescription {
		t.Fatal("second build describes differently")
	}
	dot := topo.Describe().DOT()
	for _, want := range []string{"subgraph cluster_1", `"KSTREAM-SINK-0000000004" -> "topic:counts-store-repartition"`, `shape=cylinder`} {
		if !strings.Contains(dot, want) {
			t.Errorf("DOT lacks %q:\n%s", want, dot)
		}
	}
	subs := topo.SubTopologies("wc")
	if len(subs) != 2 || subs[1].SourceTopics[0] != "wc-counts-store-repartition" || subs[1].RepartitionTopics[0] != "wc-counts-store-repartition" ||
		subs[0].SinkTopics[0] != "wc-counts-store-repartition" || len(subs[1].Stores) != 1 || subs[1].Stores[0].Name != "counts-store" {
		t.Fatalf("sub-topologies %+v", subs)
	}
	its := topo.InternalTopics("wc")
	if len(its) != 1 || its[0].Name != "wc-counts-store-repartition" || its[0].SourceTopics[0] != "streams-plaintext-input" {
		t.Fatalf("internal topics %+v", its)
	}
}

func TestWordCountDriver(t *testing.T) {
	d, err := topologytest.New(wordCount(t))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	in := topologytest.CreateInputTopic(d, "streams-plaintext-input", serde.String(), serde.String())
	out := topologytest.CreateOutputTopic(d, "streams-wordcount-output", serde.String(), serde.Int64())
	for i, line := range []string{"all streams lead to kafka", "hello kafka streams"} {
		if err := in.PipeRecord(topology.Record[string, string]{Value: line, Timestamp: time.UnixMilli(int64(i)), NullKey: true}); err != nil {
			t.Fatal(err)
		}
	}
	got, err := out.ReadKeyValues()
	if err != nil {
		t.Fatal(err)
	}
	want := "all=1 streams=1 lead=1 to=1 kafka=1 hello=1 kafka=2 streams=2"
	if s := kvString(got); s != want {
		t.Fatalf("got %s, want %s", s, want)
	}
	store, err := topologytest.GetKeyValueStore(d, "counts-store", serde.String(), serde.Int64())
	if err != nil {
		t.Fatal(err)
	}
	if n, ok, err := store.Get("kafka"); err != nil || !ok || n != 2 {
		t.Fatalf("store kafka = %d, %v, %v", n, ok, err)
	}
	all, err := store.All()
	if err != nil || len(all) != 6 {
		t.Fatalf("store has %v, %v", all, err)
	}
}

func kvString[K, V any](kvs []topologytest.KeyValue[K, V]) string {
	parts := make([]string, len(kvs))
	for i, kv := range kvs {
		parts[i] = fmt.Sprintf("%v=%v", kv.Key, kv.Value)
	}
	return strings.Join(parts, " ")
}
