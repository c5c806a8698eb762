package stream_test

import (
	"time"

	"testing"

	"github.com/kafki/kafki/serde"
	"github.com/kafki/kafki/state"
	"github.com/kafki/kafki/stream"
	"github.com/kafki/kafki/topology/topologytest"
)

// The timestamps of table results, with out-of-order input, as Kafka
// Streams' timestamped tables give them: a table-table join result is as
// recent as the newer of the rows it joins (tombstones too), an
// aggregation carries the latest timestamp folded into it.

func TestTableTableJoinTimestamps(t *testing.T) {
	cases := []struct {
		name  string
		join  func(l, r stream.KTable[string, string]) stream.KTable[string, string]
		steps func(c tableJoinCase)
		want  string
	}{{
		name: "inner",
		join: func(l, r stream.KTable[string, string]) stream.KTable[string, string] {
			return stream.JoinTables(l, r, func(a, b string) string { return a + "-" + b })
		},
		steps: func(c tableJoinCase) {
			pipe(t, c.l, "k", "a1", 10)
			pipe(t, c.r, "k", "b1", 5) // joins the left row of 10
			pipe(t, c.l, "k", "a2", 3) // joins the right row of 5
			tombstone(t, c.r, "k", 1)  // deletes the row of 3 and 5
		},
		want: "k=a1-b1@10 k=a2-b1@5 k=<nil>@3",
	}, {
		name: "left",
		join: func(l, r stream.KTable[string, string]) stream.KTable[string, string] {
			return stream.LeftJoinTables(l, r, func(a string, b *string) string { return a + "-" + orNull(b) })
		},
		steps: func(c tableJoinCase) {
			pipe(t, c.l, "k", "a1", 10)
			pipe(t, c.r, "k", "b1", 5)
			tombstone(t, c.r, "k", 7)
			tombstone(t, c.l, "k", 4) // no right row any more: its own time
			pipe(t, c.r, "x", "bx", 2)
		},
		want: "k=a1-null@10 k=a1-b1@10 k=a1-null@10 k=<nil>@4",
	}, {
		name: "outer",
		join: func(l, r stream.KTable[string, string]) stream.KTable[string, string] {
			return stream.OuterJoinTables(l, r, func(a, b *string) string { return orNull(a) + "-" + orNull(b) })
		},
		steps: func(c tableJoinCase) {
			pipe(t, c.l, "k", "a1", 10)
			pipe(t, c.r, "k", "b1", 20)
			tombstone(t, c.l, "k", 5) // the right row of 20 is left
			tombstone(t, c.r, "k", 6)
		},
		want: "k=a1-null@10 k=a1-b1@20 k=null-b1@20 k=<nil>@6",
	}}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := newTableJoinCase(t, tc.join)
			tc.steps(c)
			expect(t, tc.name, readAll(t, c.out), tc.want)
		})
	}
}

func TestTableAggregationTimestamps(t *testing.T) {
	b := stream.NewBuilder()
	users := stream.Table(b, "users", stream.ConsumedWith(serde.String(), serde.String()))
	counts := stream.CountTable(stream.GroupByTable(users, func(u, region string) (string, string) { return region, u }), stream.MaterializedAs[string, int64]("by-region"))
	counts.ToStream().To("out")
	d := newDriver(t, b, topologytest.StoreOpener(openStores))
	in := topologytest.CreateInputTopic(d, "users", serde.String(), serde.String())
	out := topologytest.CreateOutputTopic(d, "out", serde.String(), serde.Int64())
	pipe(t, in, "u1", "eu", 10)
	pipe(t, in, "u2", "eu", 5)
	pipe(t, in, "u1", "us", 7) // leaves eu (aggregate of 10), joins us
	pipe(t, in, "u3", "us", 3)
	tombstone(t, in, "u3", 2)
	expect(t, "counts", readAll(t, out), "eu=1@10 eu=2@10 eu=1@10 us=1@7 us=2@7 us=1@7")
	store, err := topologytest.GetTimestampedKeyValueStore(d, "by-region", serde.String(), serde.Int64())
	if err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]state.ValueAndTimestamp[int64]{"eu": {Value: 1, Timestamp: time.UnixMilli(10)}, "us": {Value: 1, Timestamp: time.UnixMilli(7)}} {
		if got, ok, err := store.Get(k); err != nil || !ok || got.Value != want.Value || !got.Timestamp.Equal(want.Timestamp) {
			t.Errorf("store %s = %+v, %v, %v; want %+v", k, got, ok, err, want)
		}
	}
	plain, err := topologytest.GetKeyValueStore(d, "by-region", serde.String(), serde.Int64())
	if err != nil {
		t.Fatal(err)
	}
	if n, ok, err := plain.Get("eu"); err != nil || !ok || n != 1 {
		t.Errorf("plain view of eu = %d, %v, %v; want 1", n, ok, err)
	}
}

func TestStreamAggregationTimestamps(t *testing.T) {
	b := stream.NewBuilder()
	s := stream.Stream(b, "in", stream.ConsumedWith(serde.String(), serde.String()))
	g := stream.GroupByKey(s)
	stream.Count(g).ToStream().To("count")
	stream.Reduce(g, func(a, v string) string { return a + v }).ToStream().To("reduce")
	// Stateless table operators and toStream keep the update's timestamp.
	stream.MapValuesTable(stream.Count(g, stream.MaterializedAs[string, int64]("c2")).Filter(func(_ string, n int64) bool { return n != 2 }),
		func(n int64) string { return "n" + itoa(n) }, stream.MaterializedAs[string, string]("mapped")).ToStream().To("mapped")
	d := newDriver(t, b, topologytest.StoreOpener(openStores))
	in := topologytest.CreateInputTopic(d, "in", serde.String(), serde.String())
	count := topologytest.CreateOutputTopic(d, "count", serde.String(), serde.Int64())
	reduce := topologytest.CreateOutputTopic(d, "reduce", serde.String(), serde.String())
	mapped := topologytest.CreateOutputTopic(d, "mapped", serde.String(), serde.String())
	pipe(t, in, "k", "a", 10)
	pipe(t, in, "k", "b", 5)
	pipe(t, in, "k", "c", 12)
	expect(t, "count", readAll(t, count), "k=1@10 k=2@10 k=3@12")
	expect(t, "reduce", readAll(t, reduce), "k=a@10 k=ab@10 k=abc@12")
	expect(t, "mapped", readAll(t, mapped), "k=n1@10 k=<nil>@10 k=n3@12")
	store, err := topologytest.GetTimestampedKeyValueStore(d, "mapped", serde.String(), serde.String())
	if err != nil {
		t.Fatal(err)
	}
	if got, ok, err := store.Get("k"); err != nil || !ok || got.Value != "n3" || !got.Timestamp.Equal(time.UnixMilli(12)) {
		t.Errorf("mapped store k = %+v, %v, %v", got, ok, err)
	}
}

func TestGroupByTableOrDropLeavesRowsOut(t *testing.T) {
	b := stream.NewBuilder()
	users := stream.Table(b, "users", stream.ConsumedWith(serde.String(), serde.String()))
	// Rows without a region belong to no group.
	stream.CountTable(stream.GroupByTableOrDrop(users, func(u, region string) (string, string, bool) { return region, u, region != "" })).ToStream().To("out")
	d := newDriver(t, b, topologytest.StoreOpener(openStores))
	in := topologytest.CreateInputTopic(d, "users", serde.String(), serde.String())
	out := topologytest.CreateOutputTopic(d, "out", serde.String(), serde.Int64())
	pipe(t, in, "u1", "eu", 1)
	pipe(t, in, "u2", "", 2)   // no group
	pipe(t, in, "u1", "", 3)   // leaves eu, joins none
	pipe(t, in, "u2", "eu", 4) // joins eu
	expect(t, "counts", readAll(t, out), "eu=1@1 eu=0@3 eu=1@4")
	if n := d.Dropped("null-key"); n != 3 {
		t.Errorf("rows in no group counted: %d, want 3", n)
	}
}
