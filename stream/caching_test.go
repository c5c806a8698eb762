package stream_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/kafki/kafki/serde"
	"github.com/kafki/kafki/state"
	"github.com/kafki/kafki/stream"
	"github.com/kafki/kafki/topology"
	"github.com/kafki/kafki/topology/topologytest"
)

// changelogString renders changelog records as key=value@timestamp.
func changelogString(recs []topology.RawRecord, value func([]byte) string) string {
	var parts []string
	for _, r := range recs {
		parts = append(parts, fmt.Sprintf("%s=%s@%d", r.Key, value(r.Value), r.Timestamp))
	}
	return strings.Join(parts, " ")
}

// int64String decodes a timestamped count (KTable stores keep the
// timestamp with the value).
func int64String(b []byte) string {
	_, v, err := state.DecodeTimestamped(b)
	if err != nil {
		return "!" + err.Error()
	}
	n, err := serde.Int64().Deserialize("", nil, v)
	if err != nil {
		return "!" + err.Error()
	}
	return fmt.Sprint(n)
}

// TestCachingForwardsOnFlush runs the production store stack in the test
// driver (state.BuildStore: cache, logging, in-memory engine): with
// ManualFlush the cached count holds and merges its updates, forwarding
// and logging nothing until Flush, then one update per key, the latest,
// with the timestamp of the write that made it; the uncached count
// forwards and logs every update at once.
func TestCachingForwardsOnFlush(t *testing.T) {
	b := stream.NewBuilder()
	s := stream.Stream(b, "in", stream.ConsumedWith(serde.String(), serde.String()))
	stream.Count(stream.GroupByKey(s), stream.MaterializedAs[string, int64]("cached")).ToStream().To("out")
	stream.Count(stream.GroupByKey(s), stream.MaterializedAs[string, int64]("uncached").WithCachingDisabled()).ToStream().To("direct")
	d := newDriver(t, b, topologytest.ManualFlush())
	in := topologytest.CreateInputTopic(d, "in", serde.String(), serde.String())
	out := topologytest.CreateOutputTopic(d, "out", serde.String(), serde.Int64())
	direct := topologytest.CreateOutputTopic(d, "direct", serde.String(), serde.Int64())
	for i, k := range []string{"a", "b", "a", "a"} {
		pipe(t, in, k, "x", int64(i))
	}
	if !out.IsEmpty() {
		t.Fatalf("cached table forwarded before flush: %s", read(t, out))
	}
	if got := d.ReadChangelog("cached"); len(got) != 0 {
		t.Fatalf("cached store logged before flush: %s", changelogString(got, int64String))
	}
	if got, want := read(t, direct), "a=1@0 b=1@1 a=2@2 a=3@3"; got != want {
		t.Fatalf("direct: got %q, want %q", got, want)
	}
	if got, want := changelogString(d.ReadChangelog("uncached"), int64String), "a=1@0 b=1@1 a=2@2 a=3@3"; got != want {
		t.Fatalf("uncached changelog: got %q, want %q", got, want)
	}
	st, err := d.StateStore("cached")
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := st.(interface{ FlushCache() error }); !ok {
		t.Fatalf("the cached store is a %T, not the record cache", st)
	}
	if err := d.Flush(); err != nil {
		t.Fatal(err)
	}
	// One update per key, the latest, in the order of last update, as the
	// cache merged them.
	if got, want := read(t, out), "b=1@1 a=3@3"; got != want {
		t.Fatalf("cached: got %q, want %q", got, want)
	}
	if got, want := changelogString(d.ReadChangelog("cached"), int64String), "b=1@1 a=3@3"; got != want {
		t.Fatalf("cached changelog: got %q, want %q", got, want)
	}
	// Without ManualFlush the driver flushes after every record, as Kafka
	// Streams' test driver commits after every record.
	d2 := newDriver(t, b)
	in2 := topologytest.CreateInputTopic(d2, "in", serde.String(), serde.String())
	out2 := topologytest.CreateOutputTopic(d2, "out", serde.String(), serde.Int64())
	for i, k := range []string{"a", "b", "a"} {
		pipe(t, in2, k, "x", int64(i))
	}
	if got, want := read(t, out2), "a=1@0 b=1@1 a=2@2"; got != want {
		t.Fatalf("flushed per record: got %q, want %q", got, want)
	}
}

// TestCacheHeadersKept checks that a cached update keeps the headers of
// the record that wrote it when the cache forwards it.
func TestCacheHeadersKept(t *testing.T) {
	b := stream.NewBuilder()
	s := stream.Stream(b, "in", stream.ConsumedWith(serde.String(), serde.String()))
	stream.Count(stream.GroupByKey(s), stream.MaterializedAs[string, int64]("cached")).ToStream().To("out")
	d := newDriver(t, b, topologytest.ManualFlush())
	for i, h := range []string{"h1", "h2"} {
		if err := d.PipeRaw(topology.RawRecord{Topic: "in", Key: []byte("a"), Value: []byte("x"), Timestamp: int64(i),
			Headers: []serde.Header{{Key: "h", Value: []byte(h)}}}); err != nil {
			t.Fatal(err)
		}
	}
	if err := d.Flush(); err != nil {
		t.Fatal(err)
	}
	recs := d.ReadRaw("out")
	if len(recs) != 1 || len(recs[0].Headers) != 1 || string(recs[0].Headers[0].Value) != "h2" {
		t.Fatalf("flushed records %+v: want one with the last write's header h=h2", recs)
	}
}
