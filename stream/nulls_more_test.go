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

// piped is a record for a topic other than "in".
type piped struct {
	topic string
	rec   topology.Record[string, string]
}

// TestNullsThroughMoreOperators is TestNullsThroughEveryOperator for the
// operators it leaves out: nullInputs go to "in"; pre records are piped
// before them (a right table's rows) and post records after (probes);
// seen, when set, reports what the user's functions were called with.
func TestNullsThroughMoreOperators(t *testing.T) {
	strs := stream.ConsumedWith(serde.String(), serde.String())
	uncached := stream.Materialized[string, string]{}.WithCachingDisabled()
	show := func(p *string) string {
		if p == nil {
			return "<nil>"
		}
		return *p
	}
	var calls []string
	record := func(k, v string) { calls = append(calls, fmt.Sprintf("(%q,%q)", k, v)) }
	rightX := []piped{{"right", topology.Record[string, string]{Key: "k", Value: "x", Timestamp: time.UnixMilli(0)}}}
	cases := []struct {
		op        string
		build     func(b *stream.Builder)
		pre, post []piped
		want      string
		seen      string
	}{
		{"Map: the mapper sees nulls as zero values, its results are not null", func(b *stream.Builder) {
			stream.Map(stream.Stream(b, "in", strs), func(k, v string) (string, string) {
				record(k, v)
				return k + "m", v + "m"
			}).To("out")
		}, nil, nil, "m=am@1 km=m@2 km=bm@3 km=m@4", `("","a") ("k","") ("k","b") ("k","")`},
		{"FlatMap: as Map, for each result", func(b *stream.Builder) {
			stream.FlatMap(stream.Stream(b, "in", strs), func(k, v string) []stream.KeyValue[string, string] {
				return []stream.KeyValue[string, string]{stream.Pair(k+"f", v)}
			}).To("out")
		}, nil, nil, "f=a@1 kf=@2 kf=b@3 kf=@4", ""},
		{"Peek: the function sees zero values, the records pass as they are", func(b *stream.Builder) {
			stream.Stream(b, "in", strs).Peek(record).To("out")
		}, nil, nil, "<null>=a@1 k=<null>@2 k=b@3 k=<null>@4", `("","a") ("k","") ("k","b") ("k","")`},
		{"Foreach: the function sees zero values", func(b *stream.Builder) {
			stream.Stream(b, "in", strs).Foreach(record)
		}, nil, nil, "", `("","a") ("k","") ("k","b") ("k","")`},
		{"To: a null key and a tombstone are written as Kafka nulls", func(b *stream.Builder) {
			stream.Stream(b, "in", strs).To("out")
		}, nil, nil, "<null>=a@1 k=<null>@2 k=b@3 k=<null>@4", ""},
		// Kafka Streams (KIP-962) keeps null keys in a repartition topic
		// only when a left or outer join follows; Kafki always keeps them
		// (NULLS.md).
		{"Repartition: a null key and a tombstone go through the topic", func(b *stream.Builder) {
			stream.Stream(b, "in", strs).Repartition().To("out")
		}, nil, nil, "<null>=a@1 k=<null>@2 k=b@3 k=<null>@4", ""},
		{"GlobalTable: a null key is dropped, a null value deletes", func(b *stream.Builder) {
			g := stream.GlobalTable(b, "in", strs)
			stream.LeftJoinGlobal(stream.Stream(b, "probe", strs), g, func(k, _ string) string { return k },
				func(v string, r *string) string { return v + "+" + show(r) }).To("out")
		}, nil, []piped{
			{"probe", topology.Record[string, string]{Key: "k", Value: "p", Timestamp: time.UnixMilli(5)}},
			// A stored null key would be found under the zero key "".
			{"probe", topology.Record[string, string]{NullKey: true, Value: "q", Timestamp: time.UnixMilli(6)}},
		}, "k=p+<nil>@5 <null>=q+<nil>@6", ""},
		{"JoinTables: with a right row, every delete is forwarded, even of a row that never was", func(b *stream.Builder) {
			stream.JoinTables(stream.Table(b, "in", strs, uncached), stream.Table(b, "right", strs, uncached),
				func(l, r string) string { return l + "+" + r }).ToStream().To("out")
		}, rightX, nil, "k=<null>@2 k=b+x@3 k=<null>@4", ""},
		{"JoinTables: without a right row, nothing", func(b *stream.Builder) {
			stream.JoinTables(stream.Table(b, "in", strs, uncached), stream.Table(b, "right", strs, uncached),
				func(l, r string) string { return l + "+" + r }).ToStream().To("out")
		}, nil, nil, "", ""},
		{"LeftJoinTables: without a right row, a delete of a row that never was is not forwarded", func(b *stream.Builder) {
			stream.LeftJoinTables(stream.Table(b, "in", strs, uncached), stream.Table(b, "right", strs, uncached),
				func(l string, r *string) string { return l + "+" + show(r) }).ToStream().To("out")
		}, nil, nil, "k=b+<nil>@3 k=<null>@4", ""},
		{"LeftJoinTables: with a right row, it is", func(b *stream.Builder) {
			stream.LeftJoinTables(stream.Table(b, "in", strs, uncached), stream.Table(b, "right", strs, uncached),
				func(l string, r *string) string { return l + "+" + show(r) }).ToStream().To("out")
		}, rightX, nil, "k=<null>@2 k=b+x@3 k=<null>@4", ""},
		{"OuterJoinTables: a deleted left row joins the right row with nil", func(b *stream.Builder) {
			stream.OuterJoinTables(stream.Table(b, "in", strs, uncached), stream.Table(b, "right", strs, uncached),
				func(l, r *string) string { return show(l) + "+" + show(r) }).ToStream().To("out")
		}, rightX, nil, "k=<nil>+x@0 k=<nil>+x@2 k=b+x@3 k=<nil>+x@4", ""},
		{"JoinForeignKey: a delete of a row that never was is not forwarded; a deleted row deletes its result", func(b *stream.Builder) {
			stream.JoinForeignKey(stream.Table(b, "in", strs, uncached), stream.Table(b, "right", strs, uncached),
				func(fk string) string { return fk }, func(l, r string) string { return l + "+" + r }).ToStream().To("out")
		}, []piped{{"right", topology.Record[string, string]{Key: "b", Value: "y", Timestamp: time.UnixMilli(0)}}}, nil, "k=b+y@3 k=<null>@4", ""},
		{"LeftJoinForeignKey: the same", func(b *stream.Builder) {
			stream.LeftJoinForeignKey(stream.Table(b, "in", strs, uncached), stream.Table(b, "right", strs, uncached),
				func(fk string) string { return fk }, func(l string, r *string) string { return l + "+" + show(r) }).ToStream().To("out")
		}, []piped{{"right", topology.Record[string, string]{Key: "b", Value: "y", Timestamp: time.UnixMilli(0)}}}, nil, "k=b+y@3 k=<null>@4", ""},
	}
	for _, c := range cases {
		t.Run(c.op, func(t *testing.T) {
			calls = nil
			b := stream.NewBuilder()
			c.build(b)
			d := newDriver(t, b)
			pipe := func(topic string, r topology.Record[string, string]) {
				t.Helper()
				if err := topologytest.CreateInputTopic(d, topic, serde.String(), serde.String()).PipeRecord(r); err != nil {
					t.Fatal(err)
				}
			}
			for _, p := range c.pre {
				pipe(p.topic, p.rec)
			}
			for _, r := range nullInputs {
				pipe("in", r)
			}
			for _, p := range c.post {
				pipe(p.topic, p.rec)
			}
			expect(t, c.op, renderNulls(t, topologytest.CreateOutputTopic(d, "out", serde.String(), serde.String())), c.want)
			if c.seen != "" {
				expect(t, c.op+" (calls)", strings.Join(calls, " "), c.seen)
			}
		})
	}
}
