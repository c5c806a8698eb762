package stream_test

import (
	"fmt"
	"strings"
	"time"

	"github.com/kafki/kafki/serde"
	"github.com/kafki/kafki/state"
	"github.com/kafki/kafki/stream"
	"github.com/kafki/kafki/topology"
	"github.com/kafki/kafki/topology/topologytest"
)

// Split sends each record to the first branch whose predicate matches,
// else to the default branch; branches are named prefix + name.
func ExampleKStream_Split() {
	b := stream.NewBuilder()
	logs := stream.Stream[string, string](b, "logs")
	branches := logs.Split(stream.Named("level-")).
		Branch(func(_, line string) bool { return strings.HasPrefix(line, "ERROR") }, "error").
		Branch(func(_, line string) bool { return strings.HasPrefix(line, "WARN") }, "warn").
		DefaultBranch("other").
		Branches()
	branches["level-error"].To("errors")
	branches["level-warn"].Merge(branches["level-error"]).To("alerts")
	topo, err := b.Build()
	if err != nil {
		fmt.Println(err)
		return
	}
	d, _ := topologytest.New(topo)
	defer d.Close()
	in := topologytest.CreateInputTopic(d, "logs", serde.String(), serde.String())
	for i, line := range []string{"INFO up", "WARN slow", "ERROR down", "ERROR WARN both"} {
		_ = in.Pipe("web", line, time.UnixMilli(int64(i)))
	}
	fmt.Println("errors:")
	printRecords(d, "errors", serde.String(), serde.String())
	fmt.Println("alerts:")
	printRecords(d, "alerts", serde.String(), serde.String())
	// Output:
	// errors:
	// web ERROR down
	// web ERROR WARN both
	// alerts:
	// web WARN slow
	// web ERROR down
	// web ERROR WARN both
}

// UntilTimeLimit rate-limits a table's updates: a key's latest value goes
// out once the limit (in stream time) has passed since its first held
// update, so bursts of updates become one.
func ExampleKTable_Suppress() {
	b := stream.NewBuilder()
	readings := stream.Stream[string, int64](b, "readings")
	latest := stream.Reduce(stream.GroupByKey(readings), func(_, v int64) int64 { return v },
		stream.Materialized[string, int64]{}.WithCachingDisabled())
	latest.Suppress(stream.UntilTimeLimit(time.Minute, stream.BufferConfig{})).ToStream().To("readings-per-minute")
	topo, err := b.Build()
	if err != nil {
		fmt.Println(err)
		return
	}
	d, _ := topologytest.New(topo)
	defer d.Close()
	in := topologytest.CreateInputTopic(d, "readings", serde.String(), serde.Int64())
	for _, r := range []struct {
		sensor string
		value  int64
		at     time.Duration
	}{{"s1", 20, 0}, {"s1", 21, 10 * time.Second}, {"s2", 5, 30 * time.Second}, {"s1", 22, 50 * time.Second},
		{"s1", 23, 65 * time.Second}, {"s2", 6, 100 * time.Second}} {
		_ = in.Pipe(r.sensor, r.value, time.UnixMilli(r.at.Milliseconds()))
	}
	printRecords(d, "readings-per-minute", serde.String(), serde.Int64())
	// Output:
	// s1 23
	// s2 6
}

// Session windows group each key's records that are at most the
// inactivity gap apart; a late record between two sessions merges them,
// and the merged-away sessions are deleted downstream. (Sessions are kept
// for gap plus grace: without the grace here, the first session would be
// gone from the store when the late record came.)
func ExampleCountSessions() {
	b := stream.NewBuilder()
	clicks := stream.Stream[string, string](b, "clicks")
	sessions := stream.SessionWindowedBy(stream.GroupByKey(clicks), stream.SessionWindowsWithGap(5*time.Minute, 5*time.Minute))
	stream.CountSessions(sessions, stream.Materialized[string, int64]{}.WithCachingDisabled()).ToStream().To("sessions")
	topo, err := b.Build()
	if err != nil {
		fmt.Println(err)
		return
	}
	d, _ := topologytest.New(topo)
	defer d.Close()
	in := topologytest.CreateInputTopic(d, "clicks", serde.String(), serde.String())
	minute := time.Minute.Milliseconds()
	_ = in.Pipe("ann", "/", time.UnixMilli(0))
	_ = in.Pipe("ann", "/cart", time.UnixMilli(8*minute)) // more than 5 minutes later: a new session
	_ = in.Pipe("ann", "/item", time.UnixMilli(4*minute)) // within 5 minutes of both: merges them
	printRecords(d, "sessions", stream.SessionWindowedSerde(serde.String()), serde.Int64())
	// Output:
	// [ann@0/0] 1
	// [ann@480000/480000] 1
	// [ann@0/0] <deleted>
	// [ann@480000/480000] <deleted>
	// [ann@0/480000] 3
}

// Hopping windows (tumbling windows that AdvanceBy less than their size)
// overlap, so each record counts in every window that holds it; no window
// starts before 0.
func ExampleCountWindowed() {
	b := stream.NewBuilder()
	views := stream.Stream[string, string](b, "views")
	hopping := stream.TumblingWindows(2*time.Minute, 0).AdvanceBy(time.Minute)
	stream.CountWindowed(stream.WindowedBy(stream.GroupByKey(views), hopping),
		stream.Materialized[string, int64]{}.WithCachingDisabled()).ToStream().To("views-per-2-minutes")
	topo, err := b.Build()
	if err != nil {
		fmt.Println(err)
		return
	}
	d, _ := topologytest.New(topo)
	defer d.Close()
	in := topologytest.CreateInputTopic(d, "views", serde.String(), serde.String())
	_ = in.Pipe("/home", "ann", time.UnixMilli(30*time.Second.Milliseconds()))
	_ = in.Pipe("/home", "bob", time.UnixMilli(90*time.Second.Milliseconds()))
	printRecords(d, "views-per-2-minutes", stream.WindowedSerde(serde.String(), 2*time.Minute), serde.Int64())
	// Output:
	// [/home@0/120000] 1
	// [/home@0/120000] 2
	// [/home@60000/180000] 1
}

// Sliding windows hold the records at most the time difference apart: a
// window ends at each record (the count over its last 10 seconds), and
// one starts just after a record when a later record falls in it. (A
// record earlier than the time difference counts in [0, difference].)
func ExampleCountSliding() {
	b := stream.NewBuilder()
	logins := stream.Stream[string, string](b, "failed-logins")
	w := stream.SlidingWindowsWithTimeDifference(10*time.Second, 0)
	stream.CountSliding(stream.SlidingWindowedBy(stream.GroupByKey(logins), w),
		stream.Materialized[string, int64]{}.WithCachingDisabled()).ToStream().To("failures-in-10s")
	topo, err := b.Build()
	if err != nil {
		fmt.Println(err)
		return
	}
	d, _ := topologytest.New(topo)
	defer d.Close()
	in := topologytest.CreateInputTopic(d, "failed-logins", serde.String(), serde.String())
	for _, at := range []int64{10000, 14000, 25000} {
		_ = in.Pipe("ann", "bad password", time.UnixMilli(at))
	}
	printRecords(d, "failures-in-10s", stream.WindowedSerde(serde.String(), 10*time.Second), serde.Int64())
	// Output:
	// [ann@0/10000] 1
	// [ann@10001/20001] 1
	// [ann@4000/14000] 2
	// [ann@15000/25000] 1
}

// A table re-grouped by another key and aggregated with an adder and a
// subtractor: moving a row from one group to another updates both.
func ExampleAggregateTable() {
	b := stream.NewBuilder()
	teams := stream.Table[string, string](b, "player-team") // player -> team
	byTeam := stream.GroupByTable(teams, func(player, team string) (string, string) { return team, player })
	stream.CountTable(byTeam, stream.Materialized[string, int64]{}.WithCachingDisabled()).ToStream().To("team-sizes")
	topo, err := b.Build()
	if err != nil {
		fmt.Println(err)
		return
	}
	d, _ := topologytest.New(topo)
	defer d.Close()
	in := topologytest.CreateInputTopic(d, "player-team", serde.String(), serde.String())
	_ = in.Pipe("ann", "red", time.UnixMilli(1))
	_ = in.Pipe("bob", "red", time.UnixMilli(2))
	_ = in.Pipe("ann", "blue", time.UnixMilli(3)) // ann moves: red loses one, blue gains one
	_ = in.PipeTombstone("bob", time.UnixMilli(4))
	printRecords(d, "team-sizes", serde.String(), serde.Int64())
	// Output:
	// red 1
	// red 2
	// red 1
	// blue 1
	// red 0
}

// dedup forwards a record only the first time its key is seen, keeping
// the keys seen in a store.
type dedup struct {
	ctx  topology.ProcessorContext[string, string]
	seen *state.TypedKeyValueStore[string, bool]
}

func (p *dedup) Init(ctx topology.ProcessorContext[string, string]) (err error) {
	p.ctx = ctx
	p.seen, err = topology.KeyValueStore(ctx, "seen", serde.String(), serde.Bool())
	return err
}

func (p *dedup) Process(rec topology.Record[string, string]) error {
	if _, seen, err := p.seen.Get(rec.Key); err != nil || seen {
		return err
	}
	if err := p.seen.Put(rec.Key, true); err != nil {
		return err
	}
	return p.ctx.Forward(rec)
}

func (p *dedup) Close() error { return nil }

// Process runs a Processor API processor inside a DSL topology; Stores
// connects it to a store the builder declares.
func ExampleProcess() {
	b := stream.NewBuilder()
	b.AddStateStore(state.Spec{Name: "seen", Kind: state.KindKeyValue})
	events := stream.Stream[string, string](b, "events") // key: event id
	stream.Process(events, func() topology.Processor[string, string, string, string] { return &dedup{} },
		stream.Stores("seen")).To("unique-events")
	topo, err := b.Build()
	if err != nil {
		fmt.Println(err)
		return
	}
	d, _ := topologytest.New(topo)
	defer d.Close()
	in := topologytest.CreateInputTopic(d, "events", serde.String(), serde.String())
	_ = in.Pipe("e1", "paid", time.UnixMilli(1))
	_ = in.Pipe("e2", "shipped", time.UnixMilli(2))
	_ = in.Pipe("e1", "paid", time.UnixMilli(3)) // a redelivery
	printRecords(d, "unique-events", serde.String(), serde.String())
	// Output:
	// e1 paid
	// e2 shipped
}
