package stream_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kafki/kafki/changelog"

	"github.com/kafki/kafki/serde"
	"github.com/kafki/kafki/state"
	"github.com/kafki/kafki/stream"
	"github.com/kafki/kafki/topology"
	"github.com/kafki/kafki/topology/topologytest"
)

func finalCounts(buf stream.BufferConfig) *stream.Builder {
	b := stream.NewBuilder()
	s := stream.Stream(b, "in", stream.ConsumedWith(serde.String(), serde.String()))
	w := stream.TumblingWindows(10*ms, 5*ms)
	counts := stream.CountWindowed(stream.WindowedBy(stream.GroupByKey(s), w), stream.MaterializedAs[string, int64]("counts"))
	counts.Suppress(stream.UntilWindowCloses(buf).WithName("final")).ToStream().To("out")
	return b
}

func TestSuppressUntilWindowClosesEmitsOneFinalResult(t *testing.T) {
	d := newDriver(t, finalCounts(stream.BufferConfig{}), topologytest.StoreOpener(openStores))
	in := topologytest.CreateInputTopic(d, "in", serde.String(), serde.String())
	out := topologytest.CreateOutputTopic(d, "out", stream.WindowedSerde(serde.String(), 10*ms), serde.Int64())
	pipe(t, in, "a", "x", 1)
	pipe(t, in, "a", "x", 3)
	pipe(t, in, "b", "x", 9)
	pipe(t, in, "a", "x", 12)
	pipe(t, in, "a", "x", 8) // inside grace: still counted in [0,10)
	expect(t, "before close", readAll(t, out), "")
	pipe(t, in, "c", "x", 15) // stream time 15 = 10 + grace: [0,10) closes
	expect(t, "at close", readAll(t, out), "[a@0/10]=3@8 [b@0/10]=1@9")
	pipe(t, in, "a", "x", 2) // late: dropped, no second result
	pipe(t, in, "c", "x", 40)
	expect(t, "next windows", readAll(t, out), "[a@10/20]=1@12 [c@10/20]=1@15")
}

func TestSuppressBufferSurvivesRestart(t *testing.T) {
	// The window store stays open across the restart (as a persistent
	// store would); the buffer, in memory, is rebuilt from its changelog
	// the way the runtime restores it.
	windows := map[string]state.Store{}
	var logged []*kgo.Record
	opener := func(spec state.Spec) (state.Store, error) {
		if s, ok := windows[spec.Name]; ok {
			return s, nil
		}
		s, err := openStores(spec)
		if err != nil {
			return nil, err
		}
		switch x := s.(type) {
		case state.WindowStore:
			s = keepOpenWindow{x}
			windows[spec.Name] = s
		case *state.TimeOrderedBuffer:
			if err := changelog.ApplyRecords(x, logged); err != nil {
				return nil, err
			}
		}
		return s, nil
	}
	d := newDriver(t, finalCounts(stream.BufferConfig{}), topologytest.StoreOpener(opener))
	in := topologytest.CreateInputTopic(d, "in", serde.String(), serde.String())
	pipe(t, in, "a", "x", 1)
	pipe(t, in, "a", "x", 2)
	pipe(t, in, "b", "x", 3)
	pipe(t, in, "c", "x", 16) // closes [0,10): a and b are emitted, and tombstoned in the changelog
	pipe(t, in, "c", "x", 17)
	recs := d.ReadChangelog("final-store")
	// One record per key and flush (each pipe flushes): a twice, b, c
	// twice, and a and b tombstoned when they left.
	if len(recs) != 7 {
		t.Errorf("changelog records: %d, want 7", len(recs))
	}
	for _, r := range recs {
		logged = append(logged, &kgo.Record{Key: r.Key, Value: r.Value, Headers: kgoHeaders(r.Headers), Offset: r.Offset})
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	d = newDriver(t, finalCounts(stream.BufferConfig{}), topologytest.StoreOpener(opener), topologytest.ResumeStreamTime(time.UnixMilli(17)))
	in = topologytest.CreateInputTopic(d, "in", serde.String(), serde.String())
	out := topologytest.CreateOutputTopic(d, "out", stream.WindowedSerde(serde.String(), 10*ms), serde.Int64())
	pipe(t, in, "d", "x", 30)
	expect(t, "after restart", readAll(t, out), "[c@10/20]=2@17")
}

func kgoHeaders(hs []serde.Header) []kgo.RecordHeader {
	var out []kgo.RecordHeader
	for _, h := range hs {
		out = append(out, kgo.RecordHeader{Key: h.Key, Value: h.Value})
	}
	return out
}

type keepOpenWindow struct{ state.WindowStore }

func (keepOpenWindow) Close() error { return nil }

func TestSuppressEmitsLatestTimestampAndHeaders(t *testing.T) {
	b := stream.NewBuilder()
	tbl := stream.Table(b, "in", stream.ConsumedWith(serde.String(), serde.String()), stream.MaterializedAs[string, string]("t").WithCachingDisabled())
	tbl.Suppress(stream.UntilTimeLimit(10*ms, stream.BufferConfig{})).ToStream().To("out")
	d := newDriver(t, b, topologytest.StoreOpener(openStores))
	in := topologytest.CreateInputTopic(d, "in", serde.String(), serde.String())
	out := topologytest.CreateOutputTopic(d, "out", serde.String(), serde.String())
	hs := func(v string) []serde.Header { return []serde.Header{{Key: "h", Value: []byte(v)}} }
	for _, r := range []topology.Record[string, string]{
		{Key: "b", Value: "1", Timestamp: time.UnixMilli(0), Headers: hs("b1")},
		{Key: "a", Value: "1", Timestamp: time.UnixMilli(0), Headers: hs("a1")},
		{Key: "a", Value: "2", Timestamp: time.UnixMilli(7), Headers: hs("a2")},
		{Key: "c", Value: "1", Timestamp: time.UnixMilli(10), Headers: hs("c1")},
	} {
		if err := in.PipeRecord(r); err != nil {
			t.Fatal(err)
		}
	}
	recs, err := out.ReadRecords()
	if err != nil {
		t.Fatal(err)
	}
	// Both were buffered at 0: key order, each with its latest update.
	var got []string
	for _, r := range recs {
		got = append(got, fmt.Sprintf("%s=%s@%d %s", r.Key, r.Value, r.Timestamp.UnixMilli(), r.Headers[0].Value))
	}
	if want := "a=2@7 a2,b=1@0 b1"; strings.Join(got, ",") != want {
		t.Errorf("emitted %q, want %q", strings.Join(got, ","), want)
	}
}

func TestSuppressMaxBytesCountsAsKafkaStreams(t *testing.T) {
	// A table update of key "k" to "v" from topic "in", first for its key:
	// 8 (buffer time) + 1 (key) + 1 (new value) + 8 + 8 + 2 + 4 (record
	// context: timestamp, offset, topic, partition) = 32 bytes.
	for _, tc := range []struct {
		maxBytes int64
		fits     bool
	}{{64, true}, {63, false}} {
		b := stream.NewBuilder()
		tbl := stream.Table(b, "in", stream.ConsumedWith(serde.String(), serde.String()), stream.MaterializedAs[string, string]("t").WithCachingDisabled())
		tbl.Suppress(stream.UntilTimeLimit(time.Hour, stream.BufferConfig{MaxBytes: tc.maxBytes})).ToStream().To("out")
		d := newDriver(t, b, topologytest.StoreOpener(openStores))
		in := topologytest.CreateInputTopic(d, "in", serde.String(), serde.String())
		pipe(t, in, "a", "1", 0)
		err := in.Pipe("b", "1", time.UnixMilli(0))
		if tc.fits != (err == nil) || (err != nil && !errors.Is(err, stream.ErrSuppressionBufferFull)) {
			t.Errorf("two 32-byte entries in %d bytes: %v", tc.maxBytes, err)
		}
	}
}

func TestSuppressBufferFullShutsDown(t *testing.T) {
	d := newDriver(t, finalCounts(stream.BufferConfig{MaxRecords: 2}), topologytest.StoreOpener(openStores))
	in := topologytest.CreateInputTopic(d, "in", serde.String(), serde.String())
	pipe(t, in, "a", "x", 1)
	pipe(t, in, "b", "x", 1)
	err := in.Pipe("c", "x", time.UnixMilli(1))
	if !errors.Is(err, stream.ErrSuppressionBufferFull) {
		t.Fatalf("third key in a 2-record buffer: %v, want ErrSuppressionBufferFull", err)
	}
}

func TestSuppressUntilTimeLimitRateLimits(t *testing.T) {
	b := stream.NewBuilder()
	tbl := stream.Table(b, "in", stream.ConsumedWith(serde.String(), serde.String()), stream.MaterializedAs[string, string]("t").WithCachingDisabled())
	tbl.Suppress(stream.UntilTimeLimit(10*ms, stream.BufferConfig{MaxRecords: 2, WhenFull: stream.EmitEarlyWhenFull})).
		ToStream().To("out")
	d := newDriver(t, b, topologytest.StoreOpener(openStores))
	in := topologytest.CreateInputTopic(d, "in", serde.String(), serde.String())
	out := topologytest.CreateOutputTopic(d, "out", serde.String(), serde.String())
	pipe(t, in, "a", "1", 0)
	pipe(t, in, "a", "2", 4)
	pipe(t, in, "b", "1", 5)
	expect(t, "within the limit", readAll(t, out), "")
	pipe(t, in, "a", "3", 10) // a was first buffered at 0: due at 10
	expect(t, "a due", readAll(t, out), "a=3@10")
	pipe(t, in, "c", "1", 11)
	pipe(t, in, "d", "1", 12) // three keys in a 2-record buffer: the oldest (b) goes early
	expect(t, "emit early", readAll(t, out), "b=1@5")
	if err := in.PipeTombstone("c", time.UnixMilli(30)); err != nil {
		t.Fatal(err)
	}
	// c keeps its first buffer time, 11, so it goes before d.
	expect(t, "tombstones pass after the limit", readAll(t, out), "c=<nil>@30 d=1@12")
}

func TestSuppressValidation(t *testing.T) {
	b := stream.NewBuilder()
	tbl := stream.Table(b, "in", stream.ConsumedWith(serde.String(), serde.String()))
	tbl.Suppress(stream.UntilWindowCloses(stream.BufferConfig{}))
	s := stream.Stream(b, "in2", stream.ConsumedWith(serde.String(), serde.String()))
	counts := stream.CountWindowed(stream.WindowedBy(stream.GroupByKey(s), stream.TumblingWindows(10*ms, 0)))
	counts.Suppress(stream.UntilWindowCloses(stream.BufferConfig{MaxRecords: 1, WhenFull: stream.EmitEarlyWhenFull}))
	_, err := b.Build()
	if err == nil {
		t.Fatal("invalid suppressions accepted")
	}
	for _, want := range []string{"needs a windowed table", "cannot emit early"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
}

func TestSuppressSessionsEmitsOnlyFinalSessions(t *testing.T) {
	b := stream.NewBuilder()
	s := stream.Stream(b, "in", stream.ConsumedWith(serde.String(), serde.String()))
	// Re-keyed, so the aggregation repartitions first.
	byUser := stream.GroupBy(s, func(_, v string) string { return v })
	sessions := stream.CountSessions(stream.SessionWindowedBy(byUser, stream.SessionWindowsWithGap(5*ms, 2*ms)))
	sessions.Suppress(stream.UntilWindowCloses(stream.BufferConfig{})).ToStream().To("out")
	d := newDriver(t, b)
	in := topologytest.CreateInputTopic(d, "in", serde.String(), serde.String())
	out := topologytest.CreateOutputTopic(d, "out", stream.SessionWindowedSerde(serde.String()), serde.Int64())
	pipe(t, in, "", "u", 0)
	pipe(t, in, "", "u", 6)
	pipe(t, in, "", "u", 3) // merges [0,0] and [6,6]: their tombstones are never emitted
	pipe(t, in, "", "u", 9)
	pipe(t, in, "", "v", 15)
	expect(t, "open session", readAll(t, out), "")
	pipe(t, in, "", "v", 16) // stream time 16 = end 9 + gap 5 + grace 2: closed
	expect(t, "final session", readAll(t, out), "[u@0/9]=4@9")
}
