package stream_test

import (
	"testing"
	"time"

	"github.com/kafki/kafki/serde"
	"github.com/kafki/kafki/stream"
	"github.com/kafki/kafki/topology"
	"github.com/kafki/kafki/topology/topologytest"
)

// Cases where Kafka Streams' reference implementation (KStreamKStreamJoin,
// KStreamSessionWindowAggregate) fixes details the semantics tables do not
// show: expected outputs follow it, timestamps included.

func outerJoinCase(t *testing.T) joinCase {
	return newJoinCase(t, func(l, r stream.KStream[string, string]) stream.KStream[string, string] {
		return stream.OuterJoin(l, r, func(a, b *string) string { return orNull(a) + "-" + orNull(b) }, tenMs)
	})
}

func TestOuterJoinEmitsExpiredRightBeforeLeftAtEqualTimestamps(t *testing.T) {
	c := outerJoinCase(t)
	pipe(t, c.left, "k1", "A", 0)
	pipe(t, c.right, "k2", "b", 0)
	pipe(t, c.left, "k3", "C", 100) // both windows have closed
	expect(t, "expired", readAll(t, c.out), "k2=null-b@0 k1=A-null@0")
}

func TestStreamJoinTimeAdvancesOnNullRecords(t *testing.T) {
	c := outerJoinCase(t)
	pipe(t, c.left, "k", "A", 0)
	// A null value joins nothing but still moves stream time to 100.
	if err := c.right.PipeRecord(topology.Record[string, string]{Key: "k", NullValue: true, Timestamp: time.UnixMilli(100)}); err != nil {
		t.Fatal(err)
	}
	pipe(t, c.right, "k", "a", 5) // its window closed at 15 < 100: late, A stays alone
	expect(t, "after the late record", readAll(t, c.out), "")
	pipe(t, c.left, "k", "B", 100)
	expect(t, "expired", readAll(t, c.out), "k=A-null@0")
	if n := c.d.Dropped(stream.DropLate); n != 1 {
		t.Errorf("late records counted: %d, want 1", n)
	}
	if n := c.d.Dropped("null-key-or-value"); n != 1 {
		t.Errorf("null records counted: %d, want 1", n)
	}
}

func TestSessionWindowsTombstoneEveryMergedSessionAndCloseAfterGap(t *testing.T) {
	b := stream.NewBuilder()
	s := stream.Stream(b, "in", stream.ConsumedWith(serde.String(), serde.String()))
	// Uncached: every update is forwarded, as Kafka Streams without a cache.
	stream.CountSessions(stream.SessionWindowedBy(stream.GroupByKey(s), stream.SessionWindowsWithGap(10*ms, 0)),
		stream.Materialized[string, int64]{}.WithCachingDisabled()).ToStream().To("out")
	d := newDriver(t, b, topologytest.StoreOpener(openStores))
	in := topologytest.CreateInputTopic(d, "in", serde.String(), serde.String())
	out := topologytest.CreateOutputTopic(d, "out", stream.SessionWindowedSerde(serde.String()), serde.Int64())
	pipe(t, in, "a", "x", 0)
	pipe(t, in, "a", "x", 0) // the record's own [0,0]: updated, not deleted
	expect(t, "same window", readAll(t, out), "[a@0/0]=1@0 [a@0/0]=2@0")
	pipe(t, in, "a", "x", 5)
	pipe(t, in, "a", "x", 3) // inside [0,5]: the session is deleted and re-added
	expect(t, "merged", readAll(t, out), "[a@0/0]=<nil>@0 [a@0/5]=3@5 [a@0/5]=<nil>@5 [a@0/5]=4@5")
	pipe(t, in, "a", "x", 30)
	// Stream time 30, no grace: sessions ending at or after 30-10 are
	// still open to records within the gap.
	pipe(t, in, "b", "x", 21)
	pipe(t, in, "c", "x", 19) // its session [19,19] ends before 20: late
	expect(t, "late", readAll(t, out), "[a@30/30]=1@30 [b@21/21]=1@21")
	if n := d.Dropped(stream.DropLate); n != 1 {
		t.Errorf("late records counted: %d, want 1", n)
	}
}

func slidingCounts(t *testing.T, w stream.SlidingWindows, suppress bool) (*topologytest.InputTopic[string, string], *topologytest.OutputTopic[stream.Windowed[string], int64], *topologytest.Driver) {
	b := stream.NewBuilder()
	s := stream.Stream(b, "in", stream.ConsumedWith(serde.String(), serde.String()))
	counts := stream.CountSliding(stream.SlidingWindowedBy(stream.GroupByKey(s), w))
	if suppress {
		counts = counts.Suppress(stream.UntilWindowCloses(stream.BufferConfig{}))
	}
	counts.ToStream().To("out")
	d := newDriver(t, b, topologytest.StoreOpener(openStores))
	return topologytest.CreateInputTopic(d, "in", serde.String(), serde.String()),
		topologytest.CreateOutputTopic(d, "out", stream.WindowedSerde(serde.String(), w.TimeDifference), serde.Int64()), d
}

func TestSlidingWindowLateRecordLeavesNoTrace(t *testing.T) {
	in, out, d := slidingCounts(t, stream.SlidingWindowsWithTimeDifference(10*ms, 5*ms), false)
	pipe(t, in, "a", "x", 100)
	pipe(t, in, "a", "x", 88) // close time 95: its left window [78,88] has closed, it is in no other
	pipe(t, in, "a", "x", 97) // its left window [87,97] must not count 88
	expect(t, "windows", readAll(t, out), "[a@90/100]=1@100 [a@90/100]=2@100 [a@87/97]=1@97 [a@98/108]=1@100")
	if n := d.Dropped(stream.DropLate); n != 1 {
		t.Errorf("late records counted: %d, want 1", n)
	}
}

func TestSlidingWindowEarlyRecords(t *testing.T) {
	// Records before the time difference share the window [0, diff].
	in, out, _ := slidingCounts(t, stream.SlidingWindowsWithTimeDifference(10*ms, 100*ms), false)
	pipe(t, in, "a", "x", 5)
	pipe(t, in, "a", "x", 2) // makes the right window of 2, holding 5
	pipe(t, in, "a", "x", 8) // the right window of 5, and [0,10] again
	expect(t, "windows", readAll(t, out), "[a@0/10]=1@5 [a@3/13]=1@5 [a@0/10]=2@5 [a@3/13]=2@8 [a@6/16]=1@8 [a@0/10]=3@8")
}

func TestSuppressSlidingWindowClosesAfterItsInclusiveEnd(t *testing.T) {
	in, out, _ := slidingCounts(t, stream.SlidingWindowsWithTimeDifference(10*ms, 0), true)
	pipe(t, in, "a", "x", 10)
	pipe(t, in, "b", "x", 10) // stream time 10: [0,10] still takes records at 10
	expect(t, "at the end", readAll(t, out), "")
	pipe(t, in, "b", "x", 11)
	expect(t, "after the end", readAll(t, out), "[a@0/10]=1@10 [b@0/10]=1@10")
}

func TestWindowsResumeStreamTime(t *testing.T) {
	// A task resumed at stream time 100 (as after a restart) drops what
	// was late before it, in every windowed operator.
	b := stream.NewBuilder()
	s := stream.Stream(b, "in", stream.ConsumedWith(serde.String(), serde.String()))
	g := stream.GroupByKey(s)
	stream.CountWindowed(stream.WindowedBy(g, stream.TumblingWindows(10*ms, 0))).ToStream().To("tumbling")
	stream.CountSliding(stream.SlidingWindowedBy(g, stream.SlidingWindowsWithTimeDifference(10*ms, 0))).ToStream().To("sliding")
	stream.CountSessions(stream.SessionWindowedBy(g, stream.SessionWindowsWithGap(10*ms, 0))).ToStream().To("sessions")
	d := newDriver(t, b, topologytest.StoreOpener(openStores), topologytest.ResumeStreamTime(time.UnixMilli(100)))
	in := topologytest.CreateInputTopic(d, "in", serde.String(), serde.String())
	pipe(t, in, "a", "x", 50)
	for _, topic := range []string{"tumbling", "sliding", "sessions"} {
		if got := d.ReadRaw(topic); len(got) != 0 {
			t.Errorf("%s: a record late before the restart was counted: %d outputs", topic, len(got))
		}
	}
	if n := d.Dropped(stream.DropLate); n != 3 {
		t.Errorf("late records counted: %d, want 3", n)
	}
}

func TestEmitOnWindowCloseTumbling(t *testing.T) {
	b := stream.NewBuilder()
	s := stream.Stream(b, "in", stream.ConsumedWith(serde.String(), serde.String()))
	stream.CountWindowed(stream.WindowedBy(stream.GroupByKey(s), stream.TumblingWindows(10*ms, 5*ms)).EmitStrategy(stream.OnWindowClose)).ToStream().To("out")
	d := newDriver(t, b, topologytest.StoreOpener(openStores))
	in := topologytest.CreateInputTopic(d, "in", serde.String(), serde.String())
	out := topologytest.CreateOutputTopic(d, "out", stream.WindowedSerde(serde.String(), 10*ms), serde.Int64())
	pipe(t, in, "a", "x", 1)
	pipe(t, in, "b", "x", 3)
	pipe(t, in, "a", "x", 12) // close time 7: [0,10) still open
	expect(t, "open", readAll(t, out), "")
	pipe(t, in, "a", "x", 16) // close time 11: [0,10) closes, its keys in order
	expect(t, "closed", readAll(t, out), "[a@0/10]=1@1 [b@0/10]=1@3")
	pipe(t, in, "a", "x", 4) // late
	pipe(t, in, "a", "x", 30)
	expect(t, "next", readAll(t, out), "[a@10/20]=2@16")
	if n := d.Dropped(stream.DropLate); n != 1 {
		t.Errorf("late records counted: %d, want 1", n)
	}
}

func TestEmitOnWindowCloseSliding(t *testing.T) {
	b := stream.NewBuilder()
	s := stream.Stream(b, "in", stream.ConsumedWith(serde.String(), serde.String()))
	stream.CountSliding(stream.SlidingWindowedBy(stream.GroupByKey(s), stream.SlidingWindowsWithTimeDifference(10*ms, 0)).EmitStrategy(stream.OnWindowClose)).ToStream().To("out")
	d := newDriver(t, b, topologytest.StoreOpener(openStores))
	in := topologytest.CreateInputTopic(d, "in", serde.String(), serde.String())
	out := topologytest.CreateOutputTopic(d, "out", stream.WindowedSerde(serde.String(), 10*ms), serde.Int64())
	pipe(t, in, "a", "x", 10) // [0,10] takes records at 10 still
	expect(t, "at its end", readAll(t, out), "")
	pipe(t, in, "a", "x", 15)
	expect(t, "after its end", readAll(t, out), "[a@0/10]=1@10")
	pipe(t, in, "a", "x", 26)
	expect(t, "next", readAll(t, out), "[a@5/15]=2@15 [a@11/21]=1@15")
}
