package stream_test

import (
	"strings"
	"testing"
	"time"

	"github.com/kafki/kafki/serde"
	"github.com/kafki/kafki/stream"
	"github.com/kafki/kafki/topology/topologytest"
)

func tombstone[K, V any](t *testing.T, in *topologytest.InputTopic[K, V], k K, ts int64) {
	t.Helper()
	if err := in.PipeTombstone(k, time.UnixMilli(ts)); err != nil {
		t.Fatal(err)
	}
}

func TestStreamTableJoins(t *testing.T) {
	b := stream.NewBuilder()
	s := stream.Stream(b, "orders", stream.ConsumedWith(serde.String(), serde.String()))
	tbl := stream.Table(b, "prices", stream.ConsumedWith(serde.String(), serde.String()))
	stream.JoinTable(s, tbl, func(v, p string) string { return v + "@" + p }).To("inner")
	stream.LeftJoinTable(s, tbl, func(v string, p *string) string { return v + "@" + orNull(p) }).To("left")
	d := newDriver(t, b, topologytest.StoreOpener(openStores))
	orders := topologytest.CreateInputTopic(d, "orders", serde.String(), serde.String())
	prices := topologytest.CreateInputTopic(d, "prices", serde.String(), serde.String())
	inner := topologytest.CreateOutputTopic(d, "inner", serde.String(), serde.String())
	left := topologytest.CreateOutputTopic(d, "left", serde.String(), serde.String())
	pipe(t, orders, "k", "s0", 0) // no row yet
	pipe(t, prices, "k", "t1", 1) // table updates emit nothing
	pipe(t, orders, "k", "s1", 2)
	pipe(t, orders, "x", "s2", 3)
	pipe(t, prices, "k", "t2", 4)
	pipe(t, orders, "k", "s3", 5)
	tombstone(t, prices, "k", 6)
	pipe(t, orders, "k", "s4", 7)
	expect(t, "inner", readAll(t, inner), "k=s1@t1@2 k=s3@t2@5")
	expect(t, "left", readAll(t, left), "k=s0@null@0 k=s1@t1@2 x=s2@null@3 k=s3@t2@5 k=s4@null@7")
}

func TestStreamTableJoinNeedsMaterializedTable(t *testing.T) {
	b := stream.NewBuilder()
	s := stream.Stream(b, "orders", stream.ConsumedWith(serde.String(), serde.String()))
	tbl := stream.Table(b, "prices", stream.ConsumedWith(serde.String(), serde.String())).Filter(func(string, string) bool { return true })
	stream.JoinTable(s, tbl, func(v, p string) string { return v + p }).To("out")
	if _, err := b.Build(); err == nil || !strings.Contains(err.Error(), "not materialised") {
		t.Fatalf("join with an unmaterialised table: %v", err)
	}
}

func TestStreamGlobalTableJoins(t *testing.T) {
	b := stream.NewBuilder()
	s := stream.Stream(b, "orders", stream.ConsumedWith(serde.String(), serde.String()))
	g := stream.GlobalTable(b, "customers", stream.ConsumedWith(serde.String(), serde.String()))
	byCustomer := func(_, customer string) string { return customer }
	stream.JoinGlobal(s, g, byCustomer, func(_, name string) string { return name }).To("inner")
	stream.LeftJoinGlobal(s, g, byCustomer, func(_ string, name *string) string { return orNull(name) }).To("left")
	d := newDriver(t, b, topologytest.StoreOpener(openStores))
	orders := topologytest.CreateInputTopic(d, "orders", serde.String(), serde.String())
	customers := topologytest.CreateInputTopic(d, "customers", serde.String(), serde.String())
	inner := topologytest.CreateOutputTopic(d, "inner", serde.String(), serde.String())
	left := topologytest.CreateOutputTopic(d, "left", serde.String(), serde.String())
	pipe(t, customers, "c1", "Alice", 0)
	pipe(t, orders, "o1", "c1", 1)
	pipe(t, orders, "o2", "c2", 2)
	expect(t, "inner", readAll(t, inner), "o1=Alice@1")
	expect(t, "left", readAll(t, left), "o1=Alice@1 o2=null@2")
}

type tableJoinCase struct {
	l, r *topologytest.InputTopic[string, string]
	out  *topologytest.OutputTopic[string, string]
	d    *topologytest.Driver
}

func newTableJoinCase(t *testing.T, join func(l, r stream.KTable[string, string]) stream.KTable[string, string]) tableJoinCase {
	b := stream.NewBuilder()
	l := stream.Table(b, "l", stream.ConsumedWith(serde.String(), serde.String()))
	r := stream.Table(b, "r", stream.ConsumedWith(serde.String(), serde.String()))
	join(l, r).ToStream().To("out")
	d := newDriver(t, b, topologytest.StoreOpener(openStores))
	return tableJoinCase{d: d,
		l:   topologytest.CreateInputTopic(d, "l", serde.String(), serde.String()),
		r:   topologytest.CreateInputTopic(d, "r", serde.String(), serde.String()),
		out: topologytest.CreateOutputTopic(d, "out", serde.String(), serde.String())}
}

func TestTableTableInnerJoin(t *testing.T) {
	c := newTableJoinCase(t, func(l, r stream.KTable[string, string]) stream.KTable[string, string] {
		return stream.JoinTables(l, r, func(a, b string) string { return a + "-" + b }, stream.MaterializedAs[string, string]("joined"))
	})
	pipe(t, c.l, "k", "a1", 1) // no right row: nothing
	pipe(t, c.r, "k", "b1", 2)
	pipe(t, c.l, "k", "a2", 3)
	tombstone(t, c.r, "k", 4) // the joined row is deleted
	tombstone(t, c.l, "k", 5) // no right row: no joined row to delete
	pipe(t, c.l, "x", "ax", 6)
	expect(t, "inner", readAll(t, c.out), "k=a1-b1@2 k=a2-b1@3 k=<nil>@4")
	store, err := topologytest.GetKeyValueStore(c.d, "joined", serde.String(), serde.String())
	if err != nil {
		t.Fatal(err)
	}
	if all, err := store.All(); err != nil || len(all) != 0 {
		t.Errorf("materialised inner join holds %v (%v), want nothing", all, err)
	}
}

func TestTableTableLeftJoin(t *testing.T) {
	c := newTableJoinCase(t, func(l, r stream.KTable[string, string]) stream.KTable[string, string] {
		return stream.LeftJoinTables(l, r, func(a string, b *string) string { return a + "-" + orNull(b) })
	})
	pipe(t, c.l, "k", "a1", 1)
	pipe(t, c.r, "k", "b1", 2)
	tombstone(t, c.r, "k", 3)
	tombstone(t, c.l, "k", 4)
	pipe(t, c.r, "x", "bx", 5) // no left row: nothing
	expect(t, "left", readAll(t, c.out), "k=a1-null@1 k=a1-b1@2 k=a1-null@3 k=<nil>@4")
}

func TestTableTableOuterJoin(t *testing.T) {
	c := newTableJoinCase(t, func(l, r stream.KTable[string, string]) stream.KTable[string, string] {
		return stream.OuterJoinTables(l, r, func(a, b *string) string { return orNull(a) + "-" + orNull(b) })
	})
	pipe(t, c.l, "k", "a1", 1)
	pipe(t, c.r, "x", "bx", 2)
	pipe(t, c.r, "k", "b1", 3)
	tombstone(t, c.l, "k", 4)
	tombstone(t, c.r, "k", 5)
	expect(t, "outer", readAll(t, c.out), "k=a1-null@1 x=null-bx@2 k=a1-b1@3 k=null-b1@4 k=<nil>@5")
}
