package stream_test

import (
	"testing"
	"time"

	"github.com/kafki/kafki/serde"
	"github.com/kafki/kafki/state"
	"github.com/kafki/kafki/stream"
	"github.com/kafki/kafki/topology/topologytest"
)

// Emit-on-close aggregations keep the close time up to which they emitted
// in the task's processor metadata, which the runtime commits with the
// input offsets, as Kafka Streams keeps lastEmitWindowCloseTime. It
// matters when the aggregation has not seen the task's latest records
// (here a filter drops them): after a restart it resumes at the task's
// stream time, and what closes with that jump must still be emitted,
// once.

// keepOpenStores opens the stores once and keeps them across drivers, as
// stores a restarted task reopens with their contents restored.
func keepOpenStores() topologytest.Option {
	stores := map[string]state.Store{}
	return topologytest.StoreOpener(func(spec state.Spec) (state.Store, error) {
		if s, ok := stores[spec.Name]; ok {
			return s, nil
		}
		s, err := openStores(spec)
		switch x := s.(type) {
		case state.TimeOrderedSessionStore:
			s = keepOpenSessions{x}
		case state.WindowStore:
			s = keepOpenWindow{x}
		}
		stores[spec.Name] = s
		return s, err
	})
}

type keepOpenSessions struct{ state.TimeOrderedSessionStore }

func (keepOpenSessions) Close() error { return nil }

func filteredSessionCounts(t *testing.T, opts ...topologytest.Option) (*topologytest.InputTopic[string, string], *topologytest.OutputTopic[stream.Windowed[string], int64], *topologytest.Driver) {
	b := stream.NewBuilder()
	s := stream.Stream(b, "in", stream.ConsumedWith(serde.String(), serde.String())).Filter(func(k, _ string) bool { return k != "skip" })
	stream.CountSessions(stream.SessionWindowedBy(stream.GroupByKey(s), stream.SessionWindowsWithGap(10*ms, 5*ms)).EmitStrategy(stream.OnWindowClose),
		stream.MaterializedAs[string, int64]("sessions")).ToStream().To("out")
	d := newDriver(t, b, opts...)
	return topologytest.CreateInputTopic(d, "in", serde.String(), serde.String()),
		topologytest.CreateOutputTopic(d, "out", stream.SessionWindowedSerde(serde.String()), serde.Int64()), d
}

func TestEmitOnWindowCloseSessionsResumeLastEmission(t *testing.T) {
	stores := keepOpenStores()
	in, out, d := filteredSessionCounts(t, stores) // gap 10, grace 5
	pipe(t, in, "a", "x", 0)
	pipe(t, in, "b", "x", 30) // close time 15: a [0,0] closes
	expect(t, "before", readAll(t, out), "[a@0/0]=1@0")
	pipe(t, in, "b", "x", 35)     // b [30,35]
	pipe(t, in, "skip", "x", 100) // the task's stream time, not the aggregation's
	md := d.ProcessorMetadata()
	if md["sessions"] != 20 {
		t.Fatalf("processor metadata %v, want sessions=20 (the last close time)", md)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}

	in, out, d = filteredSessionCounts(t, stores, topologytest.ResumeStreamTime(time.UnixMilli(100)), topologytest.ResumeProcessorMetadata(md))
	// Stream time 100 (close time 85) closes b [30,35], which the
	// aggregation had not emitted: it goes out with the first record.
	pipe(t, in, "c", "x", 101)
	expect(t, "after", readAll(t, out), "[b@30/35]=2@35")
	pipe(t, in, "a", "x", 3) // late, as before the restart
	pipe(t, in, "d", "x", 130)
	expect(t, "next", readAll(t, out), "[c@101/101]=1@101")
	if n := d.Dropped(stream.DropLate); n != 1 {
		t.Errorf("late records counted after the restart: %d, want 1", n)
	}
}

// TestEmitOnWindowCloseSessionsResumeBeforeFirstEmission: a restart
// before anything was emitted resumes from no emission, not from the
// close time of the resumed stream time.
func TestEmitOnWindowCloseSessionsResumeBeforeFirstEmission(t *testing.T) {
	stores := keepOpenStores()
	in, out, d := filteredSessionCounts(t, stores)
	pipe(t, in, "a", "x", 0)
	pipe(t, in, "skip", "x", 100)
	expect(t, "before", readAll(t, out), "")
	md := d.ProcessorMetadata()
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	in, out, _ = filteredSessionCounts(t, stores, topologytest.ResumeStreamTime(time.UnixMilli(100)), topologytest.ResumeProcessorMetadata(md))
	pipe(t, in, "c", "x", 100)
	expect(t, "after", readAll(t, out), "[a@0/0]=1@0")
}

func TestEmitOnWindowCloseTumblingResumesLastEmission(t *testing.T) {
	build := func(opts ...topologytest.Option) (*topologytest.InputTopic[string, string], *topologytest.OutputTopic[stream.Windowed[string], int64], *topologytest.Driver) {
		b := stream.NewBuilder()
		s := stream.Stream(b, "in", stream.ConsumedWith(serde.String(), serde.String())).Filter(func(k, _ string) bool { return k != "skip" })
		stream.CountWindowed(stream.WindowedBy(stream.GroupByKey(s), stream.TumblingWindows(10*ms, 5*ms)).EmitStrategy(stream.OnWindowClose),
			stream.MaterializedAs[string, int64]("counts")).ToStream().To("out")
		d := newDriver(t, b, opts...)
		return topologytest.CreateInputTopic(d, "in", serde.String(), serde.String()),
			topologytest.CreateOutputTopic(d, "out", stream.WindowedSerde(serde.String(), 10*ms), serde.Int64()), d
	}
	stores := keepOpenStores()
	in, out, d := build(stores)
	pipe(t, in, "a", "x", 1)
	pipe(t, in, "a", "x", 16) // close time 11: [0,10) closes
	expect(t, "before", readAll(t, out), "[a@0/10]=1@1")
	pipe(t, in, "b", "x", 18)
	pipe(t, in, "skip", "x", 100)
	md := d.ProcessorMetadata()
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	in, out, _ = build(stores, topologytest.ResumeStreamTime(time.UnixMilli(100)), topologytest.ResumeProcessorMetadata(md))
	pipe(t, in, "c", "x", 101) // close time 96: [10,20) closes now
	expect(t, "after", readAll(t, out), "[a@10/20]=1@16 [b@10/20]=1@18")
}
