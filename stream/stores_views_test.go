package stream_test

import (
	"testing"
	"time"

	"github.com/kafki/kafki/serde"
	"github.com/kafki/kafki/stream"
	"github.com/kafki/kafki/topology"
	"github.com/kafki/kafki/topology/topologytest"
)

// TestTypedWindowAndSessionStoreViews reads the stores of a windowed and a
// session count through topologytest's typed views: plain values, values
// with the timestamp of each window's last update, and sessions.
func TestTypedWindowAndSessionStoreViews(t *testing.T) {
	b := stream.NewBuilder()
	s := stream.Stream(b, "in", stream.ConsumedWith(serde.String(), serde.String()))
	g := stream.GroupByKey(s)
	stream.CountWindowed(stream.WindowedBy(g, stream.TumblingWindows(10*ms, 0)), stream.MaterializedAs[string, int64]("per10").WithRetention(time.Hour))
	stream.CountSessions(stream.SessionWindowedBy(g, stream.SessionWindowsWithGap(5*ms, 0)), stream.MaterializedAs[string, int64]("sessions").WithRetention(time.Hour))
	d := newDriver(t, b)
	in := topologytest.CreateInputTopic(d, "in", serde.String(), serde.String())
	for _, r := range []struct {
		k  string
		ts int64
	}{{"a", 1}, {"a", 3}, {"b", 4}, {"a", 12}} {
		if err := in.PipeRecord(topology.Record[string, string]{Key: r.k, Value: "x", Timestamp: time.UnixMilli(r.ts)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := d.Flush(); err != nil {
		t.Fatal(err)
	}

	ws, err := topologytest.GetWindowStore(d, "per10", serde.String(), serde.Int64())
	if err != nil {
		t.Fatal(err)
	}
	if n, ok, err := ws.Fetch("a", time.UnixMilli(0)); err != nil || !ok || n != 2 {
		t.Fatalf("Fetch(a, 0) = %d, %v, %v; want 2", n, ok, err)
	}
	if err := ws.Put("a", 5, time.UnixMilli(0)); err == nil {
		t.Fatal("a write through the plain view of a timestamped store succeeded")
	}
	tws, err := topologytest.GetTimestampedWindowStore(d, "per10", serde.String(), serde.Int64())
	if err != nil {
		t.Fatal(err)
	}
	if v, ok, err := tws.Fetch("a", time.UnixMilli(10)); err != nil || !ok || v.Value != 1 || !v.Timestamp.Equal(time.UnixMilli(12)) {
		t.Fatalf("timestamped Fetch(a, 10) = %+v, %v, %v; want 1@12", v, ok, err)
	}
	if v, ok, err := tws.Fetch("a", time.UnixMilli(0)); err != nil || !ok || v.Value != 2 || !v.Timestamp.Equal(time.UnixMilli(3)) {
		t.Fatalf("timestamped Fetch(a, 0) = %+v, %v, %v; want 2@3", v, ok, err)
	}

	ss, err := topologytest.GetSessionStore(d, "sessions", serde.String(), serde.Int64())
	if err != nil {
		t.Fatal(err)
	}
	it, err := ss.Fetch("a")
	if err != nil {
		t.Fatal(err)
	}
	defer it.Close()
	var got []string
	for it.Next() {
		got = append(got, sessionString(it.Start().UnixMilli(), it.End().UnixMilli(), it.Value()))
	}
	if err := it.Err(); err != nil {
		t.Fatal(err)
	}
	if want := []string{"[1,3]=2", "[12,12]=1"}; len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
		t.Fatalf("sessions of a = %v, want %v", got, want)
	}
	if _, err := topologytest.GetSessionStore(d, "per10", serde.String(), serde.Int64()); err == nil {
		t.Fatal("a window store opened as a session store")
	}
}

func sessionString(start, end, n int64) string {
	return "[" + itoa(start) + "," + itoa(end) + "]=" + itoa(n)
}
