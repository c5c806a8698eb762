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

// nullInputs are a null key, a null value (for a key with no row or
// partner yet), and a plain record; on a table the last two are an
// insert then a delete.
var nullInputs = []topology.Record[string, string]{
	{NullKey: true, Value: "a", Timestamp: time.UnixMilli(1)},
	{Key: "k", NullValue: true, Timestamp: time.UnixMilli(2)},
	{Key: "k", Value: "b", Timestamp: time.UnixMilli(3)},
	{Key: "k", NullValue: true, Timestamp: time.UnixMilli(4)},
}

// renderNulls prints records as key=value@ts with <null> for nulls.
func renderNulls[K, V any](t *testing.T, out *topologytest.OutputTopic[K, V]) string {
	t.Helper()
	recs, err := out.ReadRecords()
	if err != nil {
		t.Fatal(err)
	}
	parts := make([]string, len(recs))
	for i, r := range recs {
		k, v := fmt.Sprint(r.Key), fmt.Sprint(r.Value)
		if r.NullKey {
			k = "<null>"
		}
		if r.NullValue {
			v = "<null>"
		}
		parts[i] = fmt.Sprintf("%s=%s@%d", k, v, r.Timestamp.UnixMilli())
	}
	return strings.Join(parts, " ")
}

// TestNullsThroughEveryOperator pipes a null key and a null value through
// each operator and checks what comes out against Kafka Streams'
// behaviour (NULLS.md has the same table in prose). Functions of the
// plain operators see a null as the zero value; the record-level
// variants see the flags.
func TestNullsThroughEveryOperator(t *testing.T) {
	strs := stream.ConsumedWith(serde.String(), serde.String())
	uncached := stream.Materialized[string, string]{}.WithCachingDisabled()
	w := stream.JoinTimeDifference(10*time.Millisecond, 0)
	cases := []struct {
		op    string
		build func(b *stream.Builder)
		want  string
	}{
		{"Filter: nulls reach the predicate and pass", func(b *stream.Builder) {
			stream.Stream(b, "in", strs).Filter(func(k, v string) bool { return true }).To("out")
		}, "<null>=a@1 k=<null>@2 k=b@3 k=<null>@4"},
		{"FilterRecord sees null flags", func(b *stream.Builder) {
			stream.Stream(b, "in", strs).FilterRecord(func(r topology.Record[string, string]) bool { return !r.NullValue }).To("out")
		}, "<null>=a@1 k=b@3"},
		{"MapValues: the mapper sees a null as the zero value, the key stays null", func(b *stream.Builder) {
			stream.MapValues(stream.Stream(b, "in", strs), func(v string) string { return v + "!" }).To("out")
		}, "<null>=a!@1 k=!@2 k=b!@3 k=!@4"},
		{"MapValuesRecord keeps a null a null", func(b *stream.Builder) {
			stream.MapValuesRecord(stream.Stream(b, "in", strs), func(r topology.Record[string, string]) (string, bool) {
				return r.Value + "!", r.NullValue
			}).To("out")
		}, "<null>=a!@1 k=<null>@2 k=b!@3 k=<null>@4"},
		{"SelectKey: a null value stays null", func(b *stream.Builder) {
			stream.SelectKey(stream.Stream(b, "in", strs), func(k, v string) string { return "s" + k }).To("out")
		}, "s=a@1 sk=<null>@2 sk=b@3 sk=<null>@4"},
		{"FlatMapValues: a null key stays null", func(b *stream.Builder) {
			stream.FlatMapValues(stream.Stream(b, "in", strs), func(v string) []string { return []string{v, v} }).To("out")
		}, "<null>=a@1 <null>=a@1 k=@2 k=@2 k=b@3 k=b@3 k=@4 k=@4"},
		{"Count: null keys and null values are dropped", func(b *stream.Builder) {
			stream.Count(stream.GroupByKey(stream.Stream(b, "in", strs)), stream.Materialized[string, int64]{}.WithCachingDisabled()).
				ToStream().To("out")
		}, "k=1@3"},
		{"windowed Count: null keys and null values are dropped", func(b *stream.Builder) {
			stream.CountWindowed(stream.WindowedBy(stream.GroupByKey(stream.Stream(b, "in", strs)), stream.TumblingWindows(time.Second, 0)),
				stream.Materialized[string, int64]{}.WithCachingDisabled()).ToStream().To("out")
		}, "[k@0/1000]=1@3"},
		{"Table: a null key is dropped, a null value deletes", func(b *stream.Builder) {
			stream.Table(b, "in", strs, uncached).ToStream().To("out")
		}, "k=<null>@2 k=b@3 k=<null>@4"},
		{"table MapValues: a tombstone passes without calling the mapper", func(b *stream.Builder) {
			stream.MapValuesTable(stream.Table(b, "in", strs, uncached), func(v string) string {
				if v == "" {
					panic("mapper called for a tombstone")
				}
				return v + "!"
			}).ToStream().To("out")
		}, "k=<null>@2 k=b!@3 k=<null>@4"},
		{"table Filter: a tombstone passes without calling the predicate", func(b *stream.Builder) {
			stream.Table(b, "in", strs, uncached).Filter(func(k, v string) bool {
				if v == "" {
					panic("predicate called for a tombstone")
				}
				return true
			}).ToStream().To("out")
			// The delete of a row that never passed is not forwarded, as
			// Kafka Streams' KTableFilter when it sends old values.
		}, "k=b@3 k=<null>@4"},
		{"JoinTable: null keys and null values are dropped", func(b *stream.Builder) {
			tbl := stream.Table(b, "tbl", strs, stream.MaterializedAs[string, string]("t"))
			stream.JoinTable(stream.Stream(b, "in", strs), tbl, func(v, r string) string { return v + "+" + r }).To("out")
		}, ""},
		{"LeftJoinTable: a null key joins nothing, a null value is dropped", func(b *stream.Builder) {
			tbl := stream.Table(b, "tbl", strs, stream.MaterializedAs[string, string]("t"))
			stream.LeftJoinTable(stream.Stream(b, "in", strs), tbl, func(v string, r *string) string { return v + "+" + fmt.Sprint(r) }).To("out")
		}, "<null>=a+<nil>@1 k=b+<nil>@3"},
		{"Join: null keys and null values are dropped", func(b *stream.Builder) {
			s := stream.Stream(b, "in", strs)
			stream.Join(s, stream.Stream(b, "other", strs), func(l, r string) string { return l + r }, w).To("out")
		}, ""},
		{"LeftJoin: a null key is emitted alone at once, a null value is dropped", func(b *stream.Builder) {
			s := stream.Stream(b, "in", strs)
			stream.LeftJoin(s, stream.Stream(b, "other", strs), func(l string, r *string) string { return l + "+" + fmt.Sprint(r) }, w).To("out")
		}, "<null>=a+<nil>@1"},
	}
	for _, c := range cases {
		t.Run(c.op, func(t *testing.T) {
			b := stream.NewBuilder()
			c.build(b)
			d := newDriver(t, b)
			in := topologytest.CreateInputTopic(d, "in", serde.String(), serde.String())
			for _, r := range nullInputs {
				if err := in.PipeRecord(r); err != nil {
					t.Fatal(err)
				}
			}
			var got string
			switch {
			case strings.HasPrefix(c.op, "windowed"):
				got = renderNulls(t, topologytest.CreateOutputTopic(d, "out", stream.WindowedSerde(serde.String(), time.Second), serde.Int64()))
			case strings.HasPrefix(c.op, "Count"):
				got = renderNulls(t, topologytest.CreateOutputTopic(d, "out", serde.String(), serde.Int64()))
			default:
				got = renderNulls(t, topologytest.CreateOutputTopic(d, "out", serde.String(), serde.String()))
			}
			expect(t, c.op, got, c.want)
		})
	}
}
