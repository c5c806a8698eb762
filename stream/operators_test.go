package stream_test

import (
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kafki/kafki/serde"
	"github.com/kafki/kafki/state"
	"github.com/kafki/kafki/stream"
	"github.com/kafki/kafki/topology"
	"github.com/kafki/kafki/topology/topologytest"
)

func newDriver(t *testing.T, b *stream.Builder, opts ...topologytest.Option) *topologytest.Driver {
	t.Helper()
	topo, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	d, err := topologytest.New(topo, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := d.Close(); err != nil {
			t.Error(err)
		}
	})
	return d
}

func pipe[K, V any](t *testing.T, in *topologytest.InputTopic[K, V], k K, v V, ts int64) {
	t.Helper()
	if err := in.Pipe(k, v, time.UnixMilli(ts)); err != nil {
		t.Fatal(err)
	}
}

func read[K, V any](t *testing.T, out *topologytest.OutputTopic[K, V]) string {
	t.Helper()
	recs, err := out.ReadRecords()
	if err != nil {
		t.Fatal(err)
	}
	parts := make([]string, len(recs))
	for i, r := range recs {
		v := any(r.Value)
		if r.NullValue {
			v = "<nil>"
		}
		parts[i] = strings.TrimSpace(strings.Join([]string{toS(r.Key), "=", toS(v), "@", strconv.FormatInt(r.Timestamp.UnixMilli(), 10)}, ""))
	}
	return strings.Join(parts, " ")
}

func toS(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case int64:
		return strconv.FormatInt(x, 10)
	default:
		return "?"
	}
}

func TestStatelessOperators(t *testing.T) {
	b := stream.NewBuilder()
	s := stream.Stream(b, "in", stream.ConsumedWith(serde.String(), serde.String()))
	var peeked, each []string
	kept := s.Filter(func(_, v string) bool { return v != "" }).FilterNot(func(k, _ string) bool { return k == "drop" }).
		Peek(func(k, _ string) { peeked = append(peeked, k) })
	upper := stream.MapValues(kept, strings.ToUpper)
	upper.To("upper")
	lengths := stream.MapValuesWithKey(kept, func(k, v string) int64 { return int64(len(k) + len(v)) })
	lengths.To("lengths")
	swapped := stream.Map(kept, func(k, v string) (string, string) { return v, k })
	swapped.To("swapped")
	chars := stream.FlatMap(kept, func(k, v string) []stream.KeyValue[string, int64] {
		var out []stream.KeyValue[string, int64]
		for i, c := range v {
			out = append(out, stream.Pair(k+string(c), int64(i)))
		}
		return out
	})
	chars.To("chars")
	stream.SelectKey(kept, func(k, v string) string { return k + "/" + v }).To("rekeyed")
	kept.Foreach(func(k, v string) { each = append(each, k+v) })
	kept.ToFunc(func(k, _ string) string { return "dyn-" + k })

	d := newDriver(t, b)
	in := topologytest.CreateInputTopic(d, "in", serde.String(), serde.String())
	pipe(t, in, "a", "xy", 1)
	pipe(t, in, "b", "", 2)     // filtered out
	pipe(t, in, "drop", "z", 3) // filtered out by FilterNot
	pipe(t, in, "c", "q", 4)
	check := func(topic, want string, got string) {
		t.Helper()
		if got != want {
			t.Errorf("%s: got %q, want %q", topic, got, want)
		}
	}
	check("upper", "a=XY@1 c=Q@4", read(t, topologytest.CreateOutputTopic(d, "upper", serde.String(), serde.String())))
	check("lengths", "a=3@1 c=2@4", read(t, topologytest.CreateOutputTopic(d, "lengths", serde.String(), serde.Int64())))
	check("swapped", "xy=a@1 q=c@4", read(t, topologytest.CreateOutputTopic(d, "swapped", serde.String(), serde.String())))
	check("chars", "ax=0@1 ay=1@1 cq=0@4", read(t, topologytest.CreateOutputTopic(d, "chars", serde.String(), serde.Int64())))
	check("rekeyed", "a/xy=xy@1 c/q=q@4", read(t, topologytest.CreateOutputTopic(d, "rekeyed", serde.String(), serde.String())))
	check("dyn-a", "a=xy@1", read(t, topologytest.CreateOutputTopic(d, "dyn-a", serde.String(), serde.String())))
	check("dyn-c", "c=q@4", read(t, topologytest.CreateOutputTopic(d, "dyn-c", serde.String(), serde.String())))
	check("peek", "a c", strings.Join(peeked, " "))
	check("foreach", "axy cq", strings.Join(each, " "))
}

func TestSplitMergeRepartition(t *testing.T) {
	b := stream.NewBuilder()
	s := stream.Stream(b, "in", stream.ConsumedWith(serde.String(), serde.Int64()))
	br := s.Split(stream.Named("num-")).
		Branch(func(_ string, v int64) bool { return v < 0 }, "neg").
		Branch(func(_ string, v int64) bool { return v == 0 }, "zero").
		DefaultBranch("pos").Branches()
	if len(br) != 3 {
		t.Fatalf("branches %v", br)
	}
	br["num-neg"].To("neg")
	br["num-pos"].To("pos")
	other := stream.Stream(b, "in2", stream.ConsumedWith(serde.String(), serde.Int64()))
	merged := br["num-zero"].Merge(other)
	merged.Repartition(stream.RepartitionedAs[string, int64]("through").WithNumberOfPartitions(3)).To("merged")

	topo, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	its := topo.InternalTopics("app")
	if len(its) != 1 || its[0].Name != "app-through-repartition" || its[0].Partitions != 3 {
		t.Fatalf("internal topics %+v", its)
	}
	d, err := topologytest.New(topo, topologytest.ApplicationID("app"))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	in := topologytest.CreateInputTopic(d, "in", serde.String(), serde.Int64())
	in2 := topologytest.CreateInputTopic(d, "in2", serde.String(), serde.Int64())
	pipe(t, in, "a", -1, 1)
	pipe(t, in, "b", 0, 2)
	pipe(t, in, "c", 5, 3)
	pipe(t, in2, "d", 7, 4)
	for topic, want := range map[string]string{"neg": "a=-1@1", "pos": "c=5@3", "merged": "b=0@2 d=7@4"} {
		if got := read(t, topologytest.CreateOutputTopic(d, topic, serde.String(), serde.Int64())); got != want {
			t.Errorf("%s: got %q, want %q", topic, got, want)
		}
	}
	// Repartition topics are internal: not readable as outputs.
	if raw := d.ReadRaw("app-through-repartition"); len(raw) != 0 {
		t.Errorf("internal topic leaked to outputs: %v", raw)
	}
}

func TestGroupByKeyAggregations(t *testing.T) {
	b := stream.NewBuilder()
	s := stream.Stream(b, "in", stream.ConsumedWith(serde.String(), serde.Int64()))
	g := stream.GroupByKey(s)
	stream.Count(g, stream.MaterializedAs[string, int64]("count")).ToStream().To("count")
	stream.Reduce(g, func(a, v int64) int64 { return a + v }, stream.MaterializedAs[string, int64]("sum")).ToStream().To("sum")
	stream.Aggregate(g, func() string { return "" }, func(_ string, v int64, agg string) string {
		return agg + strconv.FormatInt(v, 10) + ","
	}, stream.MaterializedAs[string, string]("concat").WithEngine(state.InMemory)).ToStream().To("concat")

	topo, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	// No key change: one sub-topology, no repartition topic.
	if n := len(topo.SubTopologies("x")); n != 1 || len(topo.InternalTopics("x")) != 0 {
		t.Fatalf("%d sub-topologies, internal %v", n, topo.InternalTopics("x"))
	}
	d, err := topologytest.New(topo)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	in := topologytest.CreateInputTopic(d, "in", serde.String(), serde.Int64())
	pipe(t, in, "a", 1, 10)
	pipe(t, in, "b", 2, 11)
	pipe(t, in, "a", 3, 12)
	if err := in.PipeTombstone("a", time.UnixMilli(13)); err != nil { // null values are skipped by aggregations
		t.Fatal(err)
	}
	if d.Dropped("null-key-or-value") != 3 {
		t.Errorf("dropped %d, want 3 (one per aggregation)", d.Dropped("null-key-or-value"))
	}
	for topic, want := range map[string]string{
		"count":  "a=1@10 b=1@11 a=2@12",
		"sum":    "a=1@10 b=2@11 a=4@12",
		"concat": "a=1,@10 b=2,@11 a=1,3,@12",
	} {
		vs := any(serde.Int64())
		var got string
		if topic == "concat" {
			got = read(t, topologytest.CreateOutputTopic(d, topic, serde.String(), serde.String()))
		} else {
			got = read(t, topologytest.CreateOutputTopic(d, topic, serde.String(), vs.(serde.Serde[int64])))
		}
		if got != want {
			t.Errorf("%s: got %q, want %q", topic, got, want)
		}
	}
}

func TestKTableUpdatesAndDeletes(t *testing.T) {
	b := stream.NewBuilder()
	tbl := stream.Table(b, "users", stream.ConsumedWith(serde.String(), serde.String()), stream.MaterializedAs[string, string]("users-store"))
	tbl.ToStream().To("changes")
	tbl.Filter(func(_, v string) bool { return strings.HasPrefix(v, "x") }).ToStream().To("xs")
	stream.MapValuesTable(tbl, func(v string) int64 { return int64(len(v)) }, stream.MaterializedAs[string, int64]("lengths")).ToStream().To("lengths")

	d := newDriver(t, b)
	in := topologytest.CreateInputTopic(d, "users", serde.String(), serde.String())
	pipe(t, in, "u1", "xavier", 1)
	pipe(t, in, "u2", "bob", 2)
	pipe(t, in, "u1", "yann", 3) // update: leaves the filter
	if err := in.PipeTombstone("u2", time.UnixMilli(4)); err != nil {
		t.Fatal(err)
	}
	if err := in.PipeRecord(topology.Record[string, string]{Value: "nokey", NullKey: true, Timestamp: time.UnixMilli(5)}); err != nil {
		t.Fatal(err)
	}
	for topic, want := range map[string]string{
		"changes": "u1=xavier@1 u2=bob@2 u1=yann@3 u2=<nil>@4",
		"xs":      "u1=xavier@1 u1=<nil>@3", // the row stopped matching: a delete downstream
	} {
		if got := read(t, topologytest.CreateOutputTopic(d, topic, serde.String(), serde.String())); got != want {
			t.Errorf("%s: got %q, want %q", topic, got, want)
		}
	}
	if got, want := read(t, topologytest.CreateOutputTopic(d, "lengths", serde.String(), serde.Int64())), "u1=6@1 u2=3@2 u1=4@3 u2=<nil>@4"; got != want {
		t.Errorf("lengths: got %q, want %q", got, want)
	}
	store, err := topologytest.GetKeyValueStore(d, "users-store", serde.String(), serde.String())
	if err != nil {
		t.Fatal(err)
	}
	all, err := store.All()
	if err != nil || len(all) != 1 || all[0].Key != "u1" || all[0].Value != "yann" {
		t.Fatalf("store %v %v", all, err)
	}
	if d.Dropped("null-key") != 1 {
		t.Errorf("null-key drops = %d", d.Dropped("null-key"))
	}
}

func TestKTableRegroupWithSubtraction(t *testing.T) {
	// user -> region; count users per region, and sum name lengths per region.
	b := stream.NewBuilder()
	users := stream.Table(b, "user-regions", stream.ConsumedWith(serde.String(), serde.String()))
	byRegion := stream.GroupByTable(users, func(user, region string) (string, string) { return region, user })
	stream.CountTable(byRegion, stream.MaterializedAs[string, int64]("region-counts")).ToStream().To("counts")
	stream.AggregateTable(byRegion, func() int64 { return 0 },
		func(_ string, u string, agg int64) int64 { return agg + int64(len(u)) },
		func(_ string, u string, agg int64) int64 { return agg - int64(len(u)) }, stream.MaterializedAs[string, int64]("region-lengths")).ToStream().To("lengths")
	stream.ReduceTable(byRegion, func(a, v string) string { return a + "+" + v },
		func(a, v string) string {
			var kept []string
			for _, m := range strings.Split(a, "+") {
				if m != v {
					kept = append(kept, m)
				}
			}
			return strings.Join(kept, "+")
		}, stream.MaterializedAs[string, string]("region-users")).ToStream().To("members")

	d := newDriver(t, b)
	in := topologytest.CreateInputTopic(d, "user-regions", serde.String(), serde.String())
	pipe(t, in, "alice", "eu", 1)
	pipe(t, in, "bob", "eu", 2)
	pipe(t, in, "alice", "us", 3) // moves: eu loses one, us gains one
	if err := in.PipeTombstone("bob", time.UnixMilli(4)); err != nil {
		t.Fatal(err)
	}
	want := "eu=1@1 eu=2@2 eu=1@3 us=1@3 eu=0@4"
	if got := read(t, topologytest.CreateOutputTopic(d, "counts", serde.String(), serde.Int64())); got != want {
		t.Errorf("counts: got %q, want %q", got, want)
	}
	want = "eu=5@1 eu=8@2 eu=3@3 us=5@3 eu=0@4"
	if got := read(t, topologytest.CreateOutputTopic(d, "lengths", serde.String(), serde.Int64())); got != want {
		t.Errorf("lengths: got %q, want %q", got, want)
	}
	want = "eu=alice@1 eu=alice+bob@2 eu=bob@3 us=alice@3 eu=@4"
	if got := read(t, topologytest.CreateOutputTopic(d, "members", serde.String(), serde.String())); got != want {
		t.Errorf("members: got %q, want %q", got, want)
	}
}

// dedupe is a Processor API processor with a store and two punctuators: it
// remembers the last value per key and emits the store's size on stream
// time and a "tick" on wall-clock time.
type dedupe struct {
	ctx   topology.ProcessorContext[string, string]
	store *state.TypedKeyValueStore[string, string]
}

func (p *dedupe) Init(ctx topology.ProcessorContext[string, string]) (err error) {
	p.ctx = ctx
	if p.store, err = topology.KeyValueStore(ctx, "seen", serde.String(), serde.String()); err != nil {
		return err
	}
	if _, err := ctx.Schedule(10*time.Millisecond, topology.StreamTime, func(ts time.Time) error {
		n, err := p.store.Store.ApproximateNumEntries()
		if err != nil {
			return err
		}
		return ctx.Forward(topology.Record[string, string]{Key: "size", Value: strconv.FormatInt(n, 10), Timestamp: ts})
	}); err != nil {
		return err
	}
	_, err = ctx.Schedule(time.Second, topology.WallClockTime, func(ts time.Time) error {
		return ctx.Forward(topology.Record[string, string]{Key: "tick", Value: "wall", Timestamp: ts})
	})
	return err
}

func (p *dedupe) Process(rec topology.Record[string, string]) error {
	old, ok, err := p.store.Get(rec.Key)
	if err != nil || ok && old == rec.Value {
		return err
	}
	if err := p.store.Put(rec.Key, rec.Value); err != nil {
		return err
	}
	return p.ctx.Forward(rec)
}

func (p *dedupe) Close() error { return nil }

func TestProcessWithStoreAndPunctuators(t *testing.T) {
	b := stream.NewBuilder()
	b.AddStateStore(state.Spec{Name: "seen", Engine: state.InMemory})
	s := stream.Stream(b, "in", stream.ConsumedWith(serde.String(), serde.String()))
	stream.Process(s, func() topology.Processor[string, string, string, string] { return &dedupe{} },
		stream.Stores("seen")).To("out")
	d := newDriver(t, b, topologytest.StartTime(time.UnixMilli(1_000_000)))
	in := topologytest.CreateInputTopic(d, "in", serde.String(), serde.String())
	out := topologytest.CreateOutputTopic(d, "out", serde.String(), serde.String())
	pipe(t, in, "k", "v1", 5)  // stream time 5: first stream-time punctuation (aligned at 0)
	pipe(t, in, "k", "v1", 7)  // duplicate, dropped; no punctuation (next at 10)
	pipe(t, in, "j", "v2", 12) // punctuation at 12
	if got, want := read(t, out), "k=v1@5 size=1@5 j=v2@12 size=2@12"; got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
	if err := d.AdvanceWallClockTime(999 * time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if !out.IsEmpty() {
		t.Fatalf("wall-clock punctuator fired early: %s", read(t, out))
	}
	if err := d.AdvanceWallClockTime(time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if got, want := read(t, out), "tick=wall@1001000"; got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
}

func TestValidationErrors(t *testing.T) {
	cases := []struct {
		name  string
		build func(b *stream.Builder)
		want  error
		says  string
	}{
		{"sink without topic", func(b *stream.Builder) {
			stream.Stream(b, "in", stream.ConsumedWith(serde.String(), serde.String())).To("")
		}, topology.ErrMissingTopic, "KSTREAM-SINK-0000000001"},
		{"duplicate name", func(b *stream.Builder) {
			s := stream.Stream(b, "in", stream.ConsumedWith(serde.String(), serde.String()))
			s.Filter(func(string, string) bool { return true }, stream.Named("f"))
			s.Filter(func(string, string) bool { return true }, stream.Named("f"))
		}, topology.ErrDuplicateName, `"f"`},
		{"missing serde at sink", func(b *stream.Builder) {
			s := stream.Stream(b, "in", stream.ConsumedWith(serde.String(), serde.String()))
			stream.MapValues(s, func(v string) point { return point{} }, stream.Named("to-point")).To("out", stream.ProducedAs[string, point]("sink"))
		}, topology.ErrMissingSerde, `"sink" needs a value serde`},
		{"missing serde for repartition", func(b *stream.Builder) {
			s := stream.Stream(b, "in", stream.ConsumedWith(serde.String(), serde.String()))
			stream.Count(stream.GroupByKey(stream.SelectKey(s, func(k, v string) point { return point{} })), stream.MaterializedAs[point, int64]("c"))
		}, topology.ErrMissingSerde, "no serde for stream_test.point"},
		{"store used but never added", func(b *stream.Builder) {
			s := stream.Stream(b, "in", stream.ConsumedWith(serde.String(), serde.String()))
			stream.Process(s, func() topology.Processor[string, string, string, string] { return &dedupe{} }, stream.Stores("nope"))
		}, topology.ErrUnknownStore, `"nope"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := stream.NewBuilder()
			c.build(b)
			_, err := b.Build()
			if !errors.Is(err, c.want) || !strings.Contains(err.Error(), c.says) {
				t.Fatalf("err = %v, want %v mentioning %s", err, c.want, c.says)
			}
			// One error per cause: a missing serde is not repeated by
			// every operator downstream that lacks it too.
			if n := len(strings.Split(err.Error(), "\n")); n != 1 {
				t.Errorf("%d errors, want 1:\n%v", n, err)
			}
		})
	}
}

func TestCycleIsRejected(t *testing.T) {
	b := topology.NewBuilder()
	topology.AddSource(b, "src", serde.String(), serde.String(), "in")
	pass := func() topology.Processor[string, string, string, string] { return &dedupe{} }
	topology.AddProcessor(b, "a", pass, "src", "b")
	topology.AddProcessor(b, "b", pass, "a")
	if _, err := b.Build(); !errors.Is(err, topology.ErrCycle) || !strings.Contains(err.Error(), "[a b]") {
		t.Fatalf("err = %v", err)
	}
	b = topology.NewBuilder()
	topology.AddSource(b, "src", serde.String(), serde.String(), "in")
	topology.AddProcessor(b, "p", func() topology.Processor[string, int64, string, string] { return nil }, "src")
	topology.AddProcessor(b, "q", pass, "ghost")
	_, err := b.Build()
	if !errors.Is(err, topology.ErrTypeMismatch) || !errors.Is(err, topology.ErrUnknownNode) {
		t.Fatalf("err = %v", err)
	}
}

// point is a type with no default serde.
type point struct{ X, Y int }
