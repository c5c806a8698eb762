package stream_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kafki/kafki/changelog"
	"github.com/kafki/kafki/serde"
	"github.com/kafki/kafki/state"
	"github.com/kafki/kafki/state/pebble"
	"github.com/kafki/kafki/stream"
	"github.com/kafki/kafki/topology"
	"github.com/kafki/kafki/topology/topologytest"
)

// EmitStrategy(OnWindowClose) on session windows. The expected outputs
// follow Kafka Streams' KStreamSessionWindowAggregate with an emit
// interval of 0 (see the README): after each record, the sessions whose
// end is in [last close time, close time) are forwarded, close time being
// stream time - grace - gap; in end, start, key order (its time-ordered
// store's); each stamped with its end, with the headers of the record that
// closed it, and with no old value. Merged-away sessions are never
// emitted, only the session they merge into.

func sessionFinalCounts(t *testing.T, opts ...topologytest.Option) (*topologytest.InputTopic[string, string], *topologytest.OutputTopic[stream.Windowed[string], int64], *topologytest.Driver) {
	b := stream.NewBuilder()
	s := stream.Stream(b, "in", stream.ConsumedWith(serde.String(), serde.String()))
	stream.CountSessions(stream.SessionWindowedBy(stream.GroupByKey(s), stream.SessionWindowsWithGap(10*ms, 5*ms)).EmitStrategy(stream.OnWindowClose), stream.MaterializedAs[string, int64]("sessions")).ToStream().To("out")
	if len(opts) == 0 {
		opts = []topologytest.Option{topologytest.StoreOpener(openStores)}
	}
	d := newDriver(t, b, opts...)
	return topologytest.CreateInputTopic(d, "in", serde.String(), serde.String()),
		topologytest.CreateOutputTopic(d, "out", stream.SessionWindowedSerde(serde.String()), serde.Int64()), d
}

func TestEmitOnWindowCloseSessions(t *testing.T) {
	in, out, d := sessionFinalCounts(t) // gap 10, grace 5
	pipe(t, in, "a", "x", 0)
	pipe(t, in, "b", "x", 3)
	pipe(t, in, "a", "x", 8) // a: [0,0] merged away into [0,8], not emitted
	expect(t, "open", readAll(t, out), "")
	pipe(t, in, "e", "x", 20) // close time 5: b [3,3] has closed
	expect(t, "first close", readAll(t, out), "[b@3/3]=1@3")
	pipe(t, in, "z", "x", 16)
	pipe(t, in, "z", "x", 20) // z: [16,20]
	pipe(t, in, "c", "x", 20)
	pipe(t, in, "a", "x", 12) // a: [0,12]
	// b [3,3] was emitted: final, it takes no more records. 9 is not late
	// (close time 5) and starts a session of its own.
	pipe(t, in, "b", "x", 9)
	pipe(t, in, "d", "x", 1) // [1,1] ends before 5: late
	expect(t, "no new close", readAll(t, out), "")
	pipe(t, in, "x", "x", 30) // close time 15
	expect(t, "by end", readAll(t, out), "[b@9/9]=1@9 [a@0/12]=3@12")
	pipe(t, in, "y", "x", 41) // close time 26: three sessions end at 20
	expect(t, "by end, start, key", readAll(t, out), "[z@16/20]=2@20 [c@20/20]=1@20 [e@20/20]=1@20")
	pipe(t, in, "x", "x", 42) // close time 27; x [30,30] is beyond the gap of 42
	expect(t, "nothing closed", readAll(t, out), "")
	pipe(t, in, "y", "x", 46) // close time 31
	expect(t, "x", readAll(t, out), "[x@30/30]=1@30")
	pipe(t, in, "d", "x", 3) // late; the close time does not move: nothing
	expect(t, "late", readAll(t, out), "")
	if n := d.Dropped(stream.DropLate); n != 2 {
		t.Errorf("late records counted: %d, want 2", n)
	}
}

// TestEmitOnWindowCloseSessionsOnLateRecord: a late record moves stream
// time too, and what closes is emitted after it, as Kafka Streams does.
func TestEmitOnWindowCloseSessionsOnLateRecord(t *testing.T) {
	in, out, d := sessionFinalCounts(t)
	pipe(t, in, "a", "x", 0)
	pipe(t, in, "b", "x", 30) // close time 15: a [0,0] closes
	expect(t, "a", readAll(t, out), "[a@0/0]=1@0")
	pipe(t, in, "c", "x", 20)
	pipe(t, in, "a", "x", 1)  // late
	pipe(t, in, "b", "x", 36) // b [30,36]; close time 21: c [20,20] closes
	expect(t, "c", readAll(t, out), "[c@20/20]=1@20")
	if n := d.Dropped(stream.DropLate); n != 1 {
		t.Errorf("late records counted: %d, want 1", n)
	}
}

func TestEmitOnWindowCloseSessionsKeepsHeadersOfTheClosingRecord(t *testing.T) {
	in, out, _ := sessionFinalCounts(t)
	pipe(t, in, "a", "x", 0)
	if err := in.PipeRecord(topology.Record[string, string]{Key: "b", Value: "x", Timestamp: time.UnixMilli(100),
		Headers: []serde.Header{{Key: "h", Value: []byte("v")}}}); err != nil {
		t.Fatal(err)
	}
	recs, err := out.ReadRecords()
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 1 || recs[0].Timestamp.UnixMilli() != 0 || len(recs[0].Headers) != 1 || string(recs[0].Headers[0].Value) != "v" {
		t.Fatalf("emitted %+v, want a@[0,0] at 0 with header h=v", recs)
	}
}

// TestEmitOnWindowCloseSessionsMatchesLastUpdates: the final results are
// the last update of each session that OnWindowUpdate forwards, for the
// sessions that close.
func TestEmitOnWindowCloseSessionsMatchesLastUpdates(t *testing.T) {
	run := func(emit stream.Emit) map[string]string {
		b := stream.NewBuilder()
		s := stream.Stream(b, "in", stream.ConsumedWith(serde.String(), serde.String()))
		stream.CountSessions(stream.SessionWindowedBy(stream.GroupByKey(s), stream.SessionWindowsWithGap(10*ms, 5*ms)).EmitStrategy(emit)).ToStream().To("out")
		d := newDriver(t, b, topologytest.StoreOpener(openStores))
		in := topologytest.CreateInputTopic(d, "in", serde.String(), serde.String())
		out := topologytest.CreateOutputTopic(d, "out", stream.SessionWindowedSerde(serde.String()), serde.Int64())
		for i, ts := range []int64{0, 4, 30, 9, 12, 31, 45, 27, 50, 61, 80, 85, 100, 70, 101, 130, 200} {
			pipe(t, in, string(rune('a'+i%3)), "x", ts)
		}
		recs, err := out.ReadRecords()
		if err != nil {
			t.Fatal(err)
		}
		last := map[string]string{}
		for _, r := range recs {
			k := r.Key.String()
			if r.NullValue {
				delete(last, k)
				continue
			}
			last[k] = fmt.Sprintf("%d@%d", r.Value, r.Timestamp.UnixMilli())
		}
		return last
	}
	updates, final := run(stream.OnWindowUpdate), run(stream.OnWindowClose)
	if len(final) == 0 {
		t.Fatal("no final result")
	}
	for k, v := range final {
		if updates[k] != v {
			t.Errorf("session %s: final %s, last update %q", k, v, updates[k])
		}
	}
	// Stream time ends at 200 (close time 185): every session but the
	// last has closed.
	if len(final) != len(updates)-1 {
		t.Errorf("%d final results for %d sessions: %v vs %v", len(final), len(updates), final, updates)
	}
}

// TestEmitOnWindowCloseSessionsAcrossRestart stops a driver and starts
// another on the same session store, resumed at the stream time the
// first one reached, as the runtime does after a restart: the store is
// either reopened from disk (Pebble) or restored from the changelog the
// first driver wrote (in memory). Sessions emitted before are neither
// emitted again nor reopened, those still open go on and are emitted when
// they close, and a record that was late before is late after.
func TestEmitOnWindowCloseSessionsAcrossRestart(t *testing.T) {
	for _, restored := range []bool{false, true} {
		name := "reopened"
		if restored {
			name = "restored"
		}
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			var logged []topology.RawRecord
			open := func(spec state.Spec) (state.Store, error) {
				if spec.Kind != state.KindSession {
					return openStores(spec)
				}
				if !spec.TimeOrdered {
					t.Errorf("store %s: spec is not time-ordered", spec.Name)
				}
				if !restored {
					return pebble.Open(spec, dir+"/"+spec.Name)
				}
				s, err := openStores(spec)
				if err != nil || len(logged) == 0 {
					return s, err
				}
				recs := make([]*kgo.Record, len(logged))
				for i, r := range logged {
					recs[i] = &kgo.Record{Key: r.Key, Value: r.Value, Timestamp: time.UnixMilli(r.Timestamp), Offset: r.Offset}
				}
				return s, changelog.ApplyRecords(s, recs)
			}
			in, out, d := sessionFinalCounts(t, topologytest.StoreOpener(open)) // gap 10, grace 5
			pipe(t, in, "a", "x", 0)
			pipe(t, in, "b", "x", 10)
			pipe(t, in, "b", "x", 14) // b [10,14]
			pipe(t, in, "c", "x", 30) // close time 15
			expect(t, "before", readAll(t, out), "[a@0/0]=1@0 [b@10/14]=2@14")
			pipe(t, in, "d", "x", 20) // open across the restart
			logged = d.ReadChangelog("sessions")
			if err := d.Close(); err != nil {
				t.Fatal(err)
			}

			in, out, d = sessionFinalCounts(t, topologytest.StoreOpener(open), topologytest.ResumeStreamTime(time.UnixMilli(30)))
			pipe(t, in, "b", "x", 16) // within the gap of b [10,14], which is final: a new session
			pipe(t, in, "d", "x", 2)  // late before the restart: late after it
			pipe(t, in, "d", "x", 25) // d [20,25]
			expect(t, "nothing closed since", readAll(t, out), "")
			pipe(t, in, "c", "x", 40) // c [30,40]; close time 25
			expect(t, "after", readAll(t, out), "[b@16/16]=1@16")
			pipe(t, in, "x", "x", 60) // close time 45
			expect(t, "open across the restart", readAll(t, out), "[d@20/25]=2@25 [c@30/40]=2@40")
			if n := d.Dropped(stream.DropLate); n != 1 {
				t.Errorf("late records counted after the restart: %d, want 1", n)
			}
		})
	}
}
