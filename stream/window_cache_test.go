package stream_test

import (
	"fmt"
	"maps"
	"strings"
	"testing"

	"github.com/kafki/kafki/serde"
	"github.com/kafki/kafki/stream"
	"github.com/kafki/kafki/topology/topologytest"
)

// applyUpdates applies a windowed table's updates in order to m, what
// each window holds (a tombstone removes it), and returns them rendered.
func applyUpdates(t *testing.T, m map[string]int64, out *topologytest.OutputTopic[stream.Windowed[string], int64]) string {
	t.Helper()
	recs, err := out.ReadRecords()
	if err != nil {
		t.Fatal(err)
	}
	var parts []string
	for _, r := range recs {
		k := fmt.Sprint(r.Key)
		if r.NullValue {
			delete(m, k)
			parts = append(parts, fmt.Sprintf("%s=<nil>@%d", k, r.Timestamp.UnixMilli()))
			continue
		}
		m[k] = r.Value
		parts = append(parts, fmt.Sprintf("%s=%d@%d", k, r.Value, r.Timestamp.UnixMilli()))
	}
	return strings.Join(parts, " ")
}

// TestWindowedCountCaching runs a hopping-window count through the
// production store stack with and without its record cache: with
// ManualFlush the cached count forwards and logs nothing until Flush, then
// the latest count of each window once, with the largest timestamp of its
// records, as Kafka Streams' caching window store; the uncached one
// forwards every update. Both end with the same windows, and a
// suppression downstream emits the same final results from either.
func TestWindowedCountCaching(t *testing.T) {
	b := stream.NewBuilder()
	s := stream.Stream(b, "in", stream.ConsumedWith(serde.String(), serde.String()))
	w := stream.TumblingWindows(10*ms, 0).AdvanceBy(5 * ms)
	g := stream.WindowedBy(stream.GroupByKey(s), w)
	cached := stream.CountWindowed(g, stream.MaterializedAs[string, int64]("cached"))
	uncached := stream.CountWindowed(g, stream.MaterializedAs[string, int64]("uncached").WithCachingDisabled())
	cached.ToStream().To("out")
	uncached.ToStream().To("direct")
	cached.Suppress(stream.UntilWindowCloses(stream.BufferConfig{})).ToStream().To("final-cached")
	uncached.Suppress(stream.UntilWindowCloses(stream.BufferConfig{})).ToStream().To("final-direct")
	d := newDriver(t, b, topologytest.ManualFlush())
	in := topologytest.CreateInputTopic(d, "in", serde.String(), serde.String())
	ws := stream.WindowedSerde(serde.String(), 10*ms)
	out := topologytest.CreateOutputTopic(d, "out", ws, serde.Int64())
	direct := topologytest.CreateOutputTopic(d, "direct", ws, serde.Int64())
	finalCached := topologytest.CreateOutputTopic(d, "final-cached", ws, serde.Int64())
	finalDirect := topologytest.CreateOutputTopic(d, "final-direct", ws, serde.Int64())
	cachedTable, directTable := map[string]int64{}, map[string]int64{}
	for _, r := range []struct {
		k  string
		ts int64
	}{{"a", 6}, {"a", 2}, {"b", 7}, {"a", 8}, {"a", 12}} {
		pipe(t, in, r.k, "x", r.ts)
	}
	if !out.IsEmpty() {
		t.Fatalf("cached windowed count forwarded before flush: %s", readAll(t, out))
	}
	if got := d.ReadChangelog("cached"); len(got) != 0 {
		t.Fatalf("cached window store logged %d records before flush", len(got))
	}
	expect(t, "uncached", applyUpdates(t, directTable, direct),
		"[a@0/10]=1@6 [a@5/15]=1@6 [a@0/10]=2@6 [b@0/10]=1@7 [b@5/15]=1@7 [a@0/10]=3@8 [a@5/15]=2@8 [a@5/15]=3@12 [a@10/20]=1@12")
	if err := d.Flush(); err != nil {
		t.Fatal(err)
	}
	// One update per window, in the order of the windows' last updates.
	expect(t, "cached", applyUpdates(t, cachedTable, out),
		"[b@0/10]=1@7 [b@5/15]=1@7 [a@0/10]=3@8 [a@5/15]=3@12 [a@10/20]=1@12")
	if n := len(d.ReadChangelog("cached")); n != 5 {
		t.Errorf("cached changelog: %d records, want 5 (one per window)", n)
	}
	pipe(t, in, "a", "x", 11)
	pipe(t, in, "a", "x", 14)
	pipe(t, in, "b", "x", 21) // stream time 21: [5,15) closes
	if err := d.Flush(); err != nil {
		t.Fatal(err)
	}
	applyUpdates(t, directTable, direct)
	expect(t, "cached after the second flush", applyUpdates(t, cachedTable, out),
		"[a@5/15]=5@14 [a@10/20]=3@14 [b@15/25]=1@21 [b@20/30]=1@21")
	if !maps.Equal(cachedTable, directTable) {
		t.Errorf("final windows differ:\n cached %v\n direct %v", cachedTable, directTable)
	}
	fc := readAll(t, finalCached)
	expect(t, "suppressed, cached", fc, "[a@0/10]=3@8 [b@0/10]=1@7 [a@5/15]=5@14 [b@5/15]=1@7 [a@10/20]=3@14")
	expect(t, "suppressed", fc, readAll(t, finalDirect))
}

// TestSessionCountCaching runs a session count with and without its
// record cache: the cached count forwards, at Flush, the latest value of
// each session once; a session created and merged away between two
// flushes never reached the store and is not forwarded, while one merged
// away after a flush is deleted downstream (a tombstone at its end), as
// Kafka Streams' caching session store. Both end with the same sessions.
func TestSessionCountCaching(t *testing.T) {
	b := stream.NewBuilder()
	s := stream.Stream(b, "in", stream.ConsumedWith(serde.String(), serde.String()))
	g := stream.SessionWindowedBy(stream.GroupByKey(s), stream.SessionWindowsWithGap(10*ms, 0))
	stream.CountSessions(g, stream.MaterializedAs[string, int64]("cached")).ToStream().To("out")
	stream.CountSessions(g, stream.MaterializedAs[string, int64]("uncached").WithCachingDisabled()).ToStream().To("direct")
	d := newDriver(t, b, topologytest.ManualFlush())
	in := topologytest.CreateInputTopic(d, "in", serde.String(), serde.String())
	ss := stream.SessionWindowedSerde(serde.String())
	out := topologytest.CreateOutputTopic(d, "out", ss, serde.Int64())
	direct := topologytest.CreateOutputTopic(d, "direct", ss, serde.Int64())
	cachedTable, directTable := map[string]int64{}, map[string]int64{}
	pipe(t, in, "a", "x", 0)
	pipe(t, in, "a", "x", 5) // merges [0,0] into [0,5]
	pipe(t, in, "a", "x", 3) // inside [0,5]
	pipe(t, in, "b", "x", 4)
	if !out.IsEmpty() {
		t.Fatalf("cached session count forwarded before flush: %s", readAll(t, out))
	}
	expect(t, "uncached", applyUpdates(t, directTable, direct),
		"[a@0/0]=1@0 [a@0/0]=<nil>@0 [a@0/5]=2@5 [a@0/5]=<nil>@5 [a@0/5]=3@5 [b@4/4]=1@4")
	if err := d.Flush(); err != nil {
		t.Fatal(err)
	}
	expect(t, "cached", applyUpdates(t, cachedTable, out), "[a@0/5]=3@5 [b@4/4]=1@4")
	if n := len(d.ReadChangelog("cached")); n != 2 {
		t.Errorf("cached changelog: %d records, want 2 (one per session)", n)
	}
	pipe(t, in, "a", "x", 12) // extends [0,5] to [0,12]
	pipe(t, in, "a", "x", 13)
	if err := d.Flush(); err != nil {
		t.Fatal(err)
	}
	expect(t, "cached after the second flush", applyUpdates(t, cachedTable, out), "[a@0/5]=<nil>@5 [a@0/13]=5@13")
	applyUpdates(t, directTable, direct)
	if !maps.Equal(cachedTable, directTable) {
		t.Errorf("final sessions differ:\n cached %v\n direct %v", cachedTable, directTable)
	}
}

// TestSlidingCountCaching: a cached sliding-window count forwards each
// window once per flush and ends with the windows of the uncached one.
func TestSlidingCountCaching(t *testing.T) {
	b := stream.NewBuilder()
	s := stream.Stream(b, "in", stream.ConsumedWith(serde.String(), serde.String()))
	g := stream.SlidingWindowedBy(stream.GroupByKey(s), stream.SlidingWindowsWithTimeDifference(10*ms, 100*ms))
	stream.CountSliding(g, stream.MaterializedAs[string, int64]("cached")).ToStream().To("out")
	stream.CountSliding(g, stream.MaterializedAs[string, int64]("uncached").WithCachingDisabled()).ToStream().To("direct")
	d := newDriver(t, b, topologytest.ManualFlush())
	in := topologytest.CreateInputTopic(d, "in", serde.String(), serde.String())
	ws := stream.WindowedSerde(serde.String(), 10*ms)
	out := topologytest.CreateOutputTopic(d, "out", ws, serde.Int64())
	direct := topologytest.CreateOutputTopic(d, "direct", ws, serde.Int64())
	cachedTable, directTable := map[string]int64{}, map[string]int64{}
	for _, ts := range []int64{20, 25, 22, 30, 26} {
		pipe(t, in, "a", "x", ts)
	}
	if err := d.Flush(); err != nil {
		t.Fatal(err)
	}
	all := applyUpdates(t, directTable, direct)
	got := applyUpdates(t, cachedTable, out)
	if n, m := strings.Count(got, "="), strings.Count(all, "="); n != len(cachedTable) || n >= m {
		t.Errorf("cached forwarded %d updates for %d windows (uncached %d): %s", n, len(cachedTable), m, got)
	}
	if !maps.Equal(cachedTable, directTable) {
		t.Errorf("final windows differ:\n cached %v\n direct %v", cachedTable, directTable)
	}
}
