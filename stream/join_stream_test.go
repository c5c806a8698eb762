package stream_test

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/kafki/kafki/serde"
	"github.com/kafki/kafki/stream"
	"github.com/kafki/kafki/topology"
	"github.com/kafki/kafki/topology/topologytest"
)

func orNull(p *string) string {
	if p == nil {
		return "null"
	}
	return *p
}

type joinCase struct {
	d           *topologytest.Driver
	left, right *topologytest.InputTopic[string, string]
	out         *topologytest.OutputTopic[string, string]
}

func newJoinCase(t *testing.T, build func(l, r stream.KStream[string, string]) stream.KStream[string, string]) joinCase {
	b := stream.NewBuilder()
	l := stream.Stream(b, "left", stream.ConsumedWith(serde.String(), serde.String()))
	r := stream.Stream(b, "right", stream.ConsumedWith(serde.String(), serde.String()))
	build(l, r).To("out")
	d := newDriver(t, b, topologytest.StoreOpener(openStores))
	return joinCase{d: d,
		left:  topologytest.CreateInputTopic(d, "left", serde.String(), serde.String()),
		right: topologytest.CreateInputTopic(d, "right", serde.String(), serde.String()),
		out:   topologytest.CreateOutputTopic(d, "out", serde.String(), serde.String())}
}

var tenMs = stream.JoinTimeDifference(10*ms, 0)

func TestStreamStreamInnerJoin(t *testing.T) {
	c := newJoinCase(t, func(l, r stream.KStream[string, string]) stream.KStream[string, string] {
		return stream.Join(l, r, func(a, b string) string { return a + "-" + b }, tenMs)
	})
	pipe(t, c.left, "k", "a1", 0)
	pipe(t, c.right, "k", "b1", 5) // within 10ms of a1
	pipe(t, c.left, "k", "a2", 8)  // joins b1; a1 and a2 are both left
	pipe(t, c.right, "k", "b2", 9) // joins a1 and a2, in timestamp order
	pipe(t, c.right, "x", "bx", 9) // other key: nothing
	pipe(t, c.right, "k", "b3", 30)
	pipe(t, c.left, "k", "a3", 21) // 9ms before b3: joins it
	pipe(t, c.left, "k", "a4", 15) // window closed at 25 < 30: late
	expect(t, "inner join", readAll(t, c.out), "k=a1-b1@5 k=a2-b1@8 k=a1-b2@9 k=a2-b2@9 k=a3-b3@30")
	if n := c.d.Dropped(stream.DropLate); n != 1 {
		t.Errorf("late records counted: %d, want 1", n)
	}
}

func TestStreamStreamLeftJoinEmitsUnmatchedOnlyAfterWindowCloses(t *testing.T) {
	c := newJoinCase(t, func(l, r stream.KStream[string, string]) stream.KStream[string, string] {
		return stream.LeftJoin(l, r, func(a string, b *string) string { return a + "-" + orNull(b) }, tenMs, stream.StreamJoinedAs[string, string, string]("lj"))
	})
	pipe(t, c.left, "k", "a1", 0)
	pipe(t, c.right, "k", "b1", 5) // a1 found its partner: never "a1-null"
	pipe(t, c.left, "k", "a2", 20)
	pipe(t, c.right, "k", "b2", 25)
	pipe(t, c.left, "k", "a3", 40)
	pipe(t, c.right, "x", "bx", 50) // a3's window [30,50] is still open
	expect(t, "before a3's window closes", readAll(t, c.out), "k=a1-b1@5 k=a2-b2@25")
	pipe(t, c.left, "k", "a4", 51) // stream time 51 > 40+10: a3 is final
	expect(t, "a3 alone", readAll(t, c.out), "k=a3-null@40")
	pipe(t, c.right, "k", "b4", 58) // a4 still open: joins, no a4-null
	pipe(t, c.right, "z", "bz", 100)
	expect(t, "a4 joined", readAll(t, c.out), "k=a4-b4@58")
}

func TestStreamStreamOuterJoin(t *testing.T) {
	c := newJoinCase(t, func(l, r stream.KStream[string, string]) stream.KStream[string, string] {
		return stream.OuterJoin(l, r, func(a, b *string) string { return orNull(a) + "-" + orNull(b) }, tenMs)
	})
	pipe(t, c.right, "k", "b0", 0)
	pipe(t, c.left, "k", "a0", 3)   // joins b0, which then never appears alone
	pipe(t, c.right, "q", "bq", 10) // waits for a left partner
	pipe(t, c.left, "p", "ap", 12)  // waits for a right partner
	expect(t, "open windows", readAll(t, c.out), "k=a0-b0@3")
	pipe(t, c.left, "t", "at", 40) // stream time 40 > 10+20 and > 12+20
	expect(t, "closed windows", readAll(t, c.out), "q=null-bq@10 p=ap-null@12")
	pipe(t, c.right, "t", "bt", 45)
	expect(t, "join", readAll(t, c.out), "t=at-bt@45")
	if err := c.right.PipeRecord(topology.Record[string, string]{Value: "bn", NullKey: true, Timestamp: time.UnixMilli(46)}); err != nil {
		t.Fatal(err)
	}
	recs, err := c.out.ReadRecords()
	if err != nil || len(recs) != 1 || !recs[0].NullKey || recs[0].Value != "null-bn" {
		t.Errorf("null-key right record in an outer join: %+v %v, want one null-key \"null-bn\"", recs, err)
	}
}

func TestStreamStreamJoinAsymmetricWindows(t *testing.T) {
	w := stream.JoinTimeDifference(0, 0).WithBefore(5 * ms).WithAfter(0)
	c := newJoinCase(t, func(l, r stream.KStream[string, string]) stream.KStream[string, string] {
		return stream.Join(l, r, func(a, b string) string { return a + "-" + b }, w)
	})
	pipe(t, c.right, "k", "b1", 10)
	pipe(t, c.left, "k", "a1", 12) // right may be up to 5ms earlier: joins
	pipe(t, c.left, "k", "a2", 9)  // right may not be later: no join
	expect(t, "before-only window", readAll(t, c.out), "k=a1-b1@12")
}

func TestStreamStreamLeftJoinNeverJoinsAnEmittedRecord(t *testing.T) {
	w := stream.JoinTimeDifference(0, 0).WithBefore(5 * ms).WithAfter(0)
	c := newJoinCase(t, func(l, r stream.KStream[string, string]) stream.KStream[string, string] {
		return stream.LeftJoin(l, r, func(a string, b *string) string { return a + "-" + orNull(b) }, w)
	})
	pipe(t, c.left, "k", "a", 10)   // its window is [5,10]: it closes at once
	pipe(t, c.right, "x", "bx", 11) // stream time 11: a is final
	pipe(t, c.right, "k", "b", 10)  // would pair with a, but a's window closed
	expect(t, "no spurious join", readAll(t, c.out), "k=a-null@10")
}

func TestStreamStreamJoinRepartitionsAndCoPartitions(t *testing.T) {
	b := stream.NewBuilder()
	l := stream.SelectKey(stream.Stream(b, "left", stream.ConsumedWith(serde.String(), serde.String())),
		func(_, v string) string { return v[:1] })
	r := stream.Stream(b, "right", stream.ConsumedWith(serde.String(), serde.String()))
	stream.Join(l, r, func(a, b string) string { return a + "-" + b }, tenMs, stream.StreamJoinedAs[string, string, string]("j")).To("out")
	topo, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	var groups [][]string
	for _, st := range topo.SubTopologies("app") {
		groups = append(groups, st.CoPartitionGroups...)
	}
	want := [][]string{{"app-j-left-repartition", "right"}}
	if fmt.Sprint(groups) != fmt.Sprint(want) {
		t.Fatalf("co-partition groups %v, want %v", groups, want)
	}
	d, err := topologytest.New(topo, topologytest.StoreOpener(openStores))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	in := topologytest.CreateInputTopic(d, "left", serde.String(), serde.String())
	rin := topologytest.CreateInputTopic(d, "right", serde.String(), serde.String())
	out := topologytest.CreateOutputTopic(d, "out", serde.String(), serde.String())
	pipe(t, rin, "x", "r1", 1)
	pipe(t, in, "ignored", "x-left", 2) // re-keyed to "x" before joining
	expect(t, "joined after repartition", readAll(t, out), "x=x-left-r1@2")
	// The re-keyed side's topic takes the other side's partition count.
	if !slices.ContainsFunc(topo.InternalTopics("app"), func(it topology.InternalTopic) bool {
		return it.Name == "app-j-left-repartition" && slices.Equal(it.SourceTopics, []string{"right"})
	}) {
		t.Errorf("no repartition topic for the re-keyed side sized like the right side: %v", topo.InternalTopics("app"))
	}
}
