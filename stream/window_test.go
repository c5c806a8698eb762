package stream_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/kafki/kafki/serde"
	"github.com/kafki/kafki/stream"
	"github.com/kafki/kafki/topology/topologytest"
)

const ms = time.Millisecond

// readAll formats every record of out as "key=value@ts", with "<nil>" for
// null values, in the order they were written.
func readAll[K, V any](t *testing.T, out *topologytest.OutputTopic[K, V]) string {
	t.Helper()
	recs, err := out.ReadRecords()
	if err != nil {
		t.Fatal(err)
	}
	parts := make([]string, len(recs))
	for i, r := range recs {
		v := fmt.Sprint(r.Value)
		if r.NullValue {
			v = "<nil>"
		}
		parts[i] = fmt.Sprintf("%v=%s@%d", r.Key, v, r.Timestamp.UnixMilli())
	}
	return strings.Join(parts, " ")
}

func expect(t *testing.T, what, got, want string) {
	t.Helper()
	if got != want {
		t.Errorf("%s:\n got %s\nwant %s", what, got, want)
	}
}

func TestHoppingWindowCountEmitsToEveryWindow(t *testing.T) {
	b := stream.NewBuilder()
	s := stream.Stream(b, "in", stream.ConsumedWith(serde.String(), serde.String()))
	w := stream.TumblingWindows(10*ms, 0).AdvanceBy(5 * ms)
	counts := stream.CountWindowed(stream.WindowedBy(stream.GroupByKey(s), w), stream.MaterializedAs[string, int64]("counts"))
	counts.ToStream().To("out")
	d := newDriver(t, b, topologytest.StoreOpener(openStores))
	in := topologytest.CreateInputTopic(d, "in", serde.String(), serde.String())
	out := topologytest.CreateOutputTopic(d, "out", stream.WindowedSerde(serde.String(), 10*ms), serde.Int64())
	pipe(t, in, "a", "x", 7)  // windows [0,10) and [5,15)
	pipe(t, in, "a", "x", 12) // [5,15) and [10,20)
	pipe(t, in, "b", "x", 3)  // stream time 12, no grace: [0,10) has closed
	pipe(t, in, "b", "x", 2)  // likewise late: windows start at 0, so [0,10) only
	expect(t, "counts", readAll(t, out),
		"[a@0/10]=1@7 [a@5/15]=1@7 [a@5/15]=2@12 [a@10/20]=1@12")
	pipe(t, in, "b", "x", 13)
	expect(t, "counts", readAll(t, out), "[b@5/15]=1@13 [b@10/20]=1@13")
	if n := d.Dropped(stream.DropLate); n != 2 {
		t.Errorf("late records counted: %d, want 2", n)
	}
}

func TestTumblingWindowGraceAndLateRecords(t *testing.T) {
	b := stream.NewBuilder()
	s := stream.Stream(b, "in", stream.ConsumedWith(serde.String(), serde.Int64()))
	w := stream.TumblingWindows(10*ms, 5*ms)
	sums := stream.ReduceWindowed(stream.WindowedBy(stream.GroupByKey(s), w), func(a, v int64) int64 { return a + v })
	sums.ToStream().To("out")
	d := newDriver(t, b, topologytest.StoreOpener(openStores))
	in := topologytest.CreateInputTopic(d, "in", serde.String(), serde.Int64())
	out := topologytest.CreateOutputTopic(d, "out", stream.WindowedSerde(serde.String(), 10*ms), serde.Int64())
	pipe(t, in, "a", 1, 2)
	pipe(t, in, "a", 2, 14) // stream time 14: [0,10) closes at 10+5=15
	pipe(t, in, "a", 4, 9)  // out of order, inside grace: updates [0,10)
	pipe(t, in, "a", 8, 15) // stream time 15: [0,10) is now closed
	pipe(t, in, "a", 16, 1) // late: dropped
	expect(t, "sums", readAll(t, out), "[a@0/10]=1@2 [a@10/20]=2@14 [a@0/10]=5@9 [a@10/20]=10@15")
	if n := d.Dropped(stream.DropLate); n != 1 {
		t.Errorf("late records counted: %d, want 1", n)
	}
}

func TestSessionWindowsMergeAndEmitTombstones(t *testing.T) {
	b := stream.NewBuilder()
	s := stream.Stream(b, "in", stream.ConsumedWith(serde.String(), serde.String()))
	w := stream.SessionWindowsWithGap(5*ms, 10*ms)
	counts := stream.CountSessions(stream.SessionWindowedBy(stream.GroupByKey(s), w))
	counts.ToStream().To("out")
	d := newDriver(t, b, topologytest.StoreOpener(openStores))
	in := topologytest.CreateInputTopic(d, "in", serde.String(), serde.String())
	out := topologytest.CreateOutputTopic(d, "out", stream.SessionWindowedSerde(serde.String()), serde.Int64())
	pipe(t, in, "a", "x", 0)
	pipe(t, in, "a", "x", 10) // more than the gap later: a second session
	pipe(t, in, "a", "x", 5)  // bridges both: they merge into [0,10]
	pipe(t, in, "a", "x", 12) // extends the merged session
	pipe(t, in, "a", "x", 30) // new session; stream time 30, close time 20
	pipe(t, in, "a", "x", 3)  // its session [0,12] ended before 20: late
	expect(t, "sessions", readAll(t, out),
		"[a@0/0]=1@0 [a@10/10]=1@10 [a@0/0]=<nil>@0 [a@10/10]=<nil>@10 [a@0/10]=3@10 "+
			"[a@0/10]=<nil>@10 [a@0/12]=4@12 [a@30/30]=1@30")
	if n := d.Dropped(stream.DropLate); n != 1 {
		t.Errorf("late records counted: %d, want 1", n)
	}
}

func TestWindowedSerdesRoundTrip(t *testing.T) {
	ws := stream.WindowedSerde(serde.String(), time.Minute)
	b, err := ws.Serialize("t", nil, stream.Windowed[string]{Key: "k", Window: stream.NewWindow(time.UnixMilli(60000), time.UnixMilli(120000))})
	if err != nil {
		t.Fatal(err)
	}
	if len(b) != 1+8 {
		t.Fatalf("time-windowed key is %d bytes, want key + 8", len(b))
	}
	w, err := ws.Deserialize("t", nil, b)
	if err != nil || w != (stream.Windowed[string]{Key: "k", Window: stream.NewWindow(time.UnixMilli(60000), time.UnixMilli(120000))}) {
		t.Fatalf("round trip: %v %v", w, err)
	}
	ss := stream.SessionWindowedSerde(serde.String())
	b, err = ss.Serialize("t", nil, stream.Windowed[string]{Key: "k", Window: stream.NewWindow(time.UnixMilli(5), time.UnixMilli(9))})
	if err != nil {
		t.Fatal(err)
	}
	if w, err := ss.Deserialize("t", nil, b); err != nil || w.Window != stream.NewWindow(time.UnixMilli(5), time.UnixMilli(9)) || w.Key != "k" {
		t.Fatalf("session round trip: %v %v", w, err)
	}
	if _, err := ws.Deserialize("t", nil, []byte{1, 2}); err == nil {
		t.Error("short time-windowed key accepted")
	}
	if _, err := ss.Deserialize("t", nil, make([]byte, 15)); err == nil {
		t.Error("short session-windowed key accepted")
	}
}

func TestWindowValidation(t *testing.T) {
	b := stream.NewBuilder()
	s := stream.Stream(b, "in", stream.ConsumedWith(serde.String(), serde.String()))
	stream.CountWindowed(stream.WindowedBy(stream.GroupByKey(s), stream.TumblingWindows(10*ms, 0).AdvanceBy(20*ms)))
	stream.CountWindowed(stream.WindowedBy(stream.GroupByKey(s), stream.TumblingWindows(10*ms, 0)), stream.Materialized[string, int64]{}.WithRetention(5*ms))
	stream.CountSessions(stream.SessionWindowedBy(stream.GroupByKey(s), stream.SessionWindowsWithGap(0, 0)))
	_, err := b.Build()
	if err == nil {
		t.Fatal("invalid windows accepted")
	}
	for _, want := range []string{"advance 20ms", "retention 5ms", "inactivity gap 0s"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
}

func TestTimestampExtractor(t *testing.T) {
	b := stream.NewBuilder()
	s := stream.Stream(b, "in", stream.ConsumedWith(serde.String(), serde.Int64()).
		WithTimestampExtractor(func(_ string, v int64, _ time.Time) time.Time { return time.UnixMilli(v) }))
	counts := stream.CountWindowed(stream.WindowedBy(stream.GroupByKey(s), stream.TumblingWindows(10*ms, 0)))
	counts.ToStream().To("out")
	d := newDriver(t, b, topologytest.StoreOpener(openStores))
	in := topologytest.CreateInputTopic(d, "in", serde.String(), serde.Int64())
	out := topologytest.CreateOutputTopic(d, "out", stream.WindowedSerde(serde.String(), 10*ms), serde.Int64())
	pipe(t, in, "a", 25, 0) // the value, not the record time, places it
	pipe(t, in, "a", -1, 0) // negative: dropped
	expect(t, "counts", readAll(t, out), "[a@20/30]=1@25")
	if n := d.Dropped("negative-timestamp"); n != 1 {
		t.Errorf("negative timestamps counted: %d, want 1", n)
	}
}

func TestSlidingWindowCount(t *testing.T) {
	b := stream.NewBuilder()
	s := stream.Stream(b, "in", stream.ConsumedWith(serde.String(), serde.String()))
	w := stream.SlidingWindowsWithTimeDifference(10*ms, 100*ms)
	stream.CountSliding(stream.SlidingWindowedBy(stream.GroupByKey(s), w)).ToStream().To("out")
	d := newDriver(t, b)
	in := topologytest.CreateInputTopic(d, "in", serde.String(), serde.String())
	out := topologytest.CreateOutputTopic(d, "out", stream.WindowedSerde(serde.String(), 10*ms), serde.Int64())
	pipe(t, in, "a", "x", 20)
	expect(t, "first record", readAll(t, out), "[a@10/20]=1@20")
	// The right window of the record before, then its own left window, in
	// Kafka Streams' order.
	pipe(t, in, "a", "x", 25)
	expect(t, "second record", readAll(t, out), "[a@21/31]=1@25 [a@15/25]=2@25")
	// Out of order: joins [15,25] and [10,20] (latest first), then makes
	// its left window [8,18] and its right one [19,29].
	pipe(t, in, "a", "x", 18)
	expect(t, "out of order", readAll(t, out), "[a@15/25]=3@25 [a@10/20]=2@20 [a@8/18]=1@18 [a@19/29]=2@25")
	pipe(t, in, "a", "x", 200)
	pipe(t, in, "a", "x", 80) // every window holding 80 ended before 200-100
	expect(t, "late", readAll(t, out), "[a@190/200]=1@200")
	if n := d.Dropped(stream.DropLate); n != 1 {
		t.Errorf("late records counted: %d, want 1", n)
	}
}

// TestWindowedKeyKeepsMillisecondsOnTheWire checks that a Windowed key's
// time.Time API changes none of the forms it is written in: the windowed
// serdes' bytes, String and JSON all carry epoch milliseconds.
func TestWindowedKeyKeepsMillisecondsOnTheWire(t *testing.T) {
	start, end := time.UnixMilli(60000).Add(999*time.Microsecond), time.UnixMilli(120000)
	w := stream.Windowed[string]{Key: "k", Window: stream.NewWindow(start, end)}
	if !w.Window.Start().Equal(time.UnixMilli(60000)) || !w.Window.End().Equal(end) || w.Window.Size() != time.Minute {
		t.Fatalf("window %v: start %v end %v size %v, want the bounds truncated to ms", w.Window, w.Window.Start(), w.Window.End(), w.Window.Size())
	}
	b, err := stream.WindowedSerde(serde.String(), time.Minute).Serialize("t", nil, w)
	if want := "6b000000000000ea60"; err != nil || fmt.Sprintf("%x", b) != want {
		t.Errorf("time-windowed bytes %x %v, want %s", b, err, want)
	}
	b, err = stream.SessionWindowedSerde(serde.String()).Serialize("t", nil, w)
	if want := "6b000000000001d4c0000000000000ea60"; err != nil || fmt.Sprintf("%x", b) != want {
		t.Errorf("session-windowed bytes %x %v, want %s", b, err, want)
	}
	if got, want := w.String(), "[k@60000/120000]"; got != want {
		t.Errorf("String %q, want %q", got, want)
	}
	js := serde.JSON[stream.Windowed[string]]()
	b, err = js.Serialize("t", nil, w)
	if want := `{"Key":"k","Start":60000,"End":120000}`; err != nil || string(b) != want {
		t.Errorf("JSON %s %v, want %s", b, err, want)
	}
	if back, err := js.Deserialize("t", nil, b); err != nil || back != w {
		t.Errorf("JSON round trip %v %v, want %v", back, err, w)
	}
}

// Windowed serdes over the same serde compare equal (and do not panic
// comparing), as they did before they kept more than the inner serde.
func TestWindowedSerdesCompare(t *testing.T) {
	if stream.WindowedSerde(serde.String(), time.Minute) != stream.WindowedSerde(serde.String(), time.Minute) ||
		stream.SessionWindowedSerde(serde.Int64()) != stream.SessionWindowedSerde(serde.Int64()) {
		t.Error("equal windowed serdes compare unequal")
	}
	if stream.WindowedSerde(serde.String(), time.Minute) == stream.WindowedSerde(serde.String(), time.Second) {
		t.Error("windowed serdes of different sizes compare equal")
	}
}

// A windowed serde appends (serde.Appender, which sinks and the
// suppression buffer encode through) exactly the bytes Serialize returns,
// after what dst holds, whether its inner serde appends or not.
func TestWindowedSerdesAppendWhatTheySerialize(t *testing.T) {
	w := stream.Windowed[string]{Key: "key", Window: stream.NewWindow(time.UnixMilli(60000), time.UnixMilli(120000))}
	for _, inner := range []serde.Serde[string]{serde.String(), hideAppend[string]{serde.String()}} {
		for name, s := range map[string]serde.Serde[stream.Windowed[string]]{
			"time":    stream.WindowedSerde(inner, time.Minute),
			"session": stream.SessionWindowedSerde(inner),
		} {
			want, err := s.Serialize("t", nil, w)
			if err != nil {
				t.Fatal(err)
			}
			a, ok := s.(serde.Appender[stream.Windowed[string]])
			if !ok {
				t.Fatalf("%s-windowed serde does not append", name)
			}
			got, err := a.AppendSerialize([]byte("prefix"), "t", nil, w)
			if err != nil || string(got) != "prefix"+string(want) {
				t.Errorf("%s-windowed serde over %T appends %q, %v; want %q", name, inner, got, err, "prefix"+string(want))
			}
		}
	}
}
