package runtime

import (
	"strconv"
	"testing"
	"time"

	"github.com/kafki/kafki/internal/kafkatest"
	"github.com/kafki/kafki/serde"
	"github.com/kafki/kafki/state"
	"github.com/kafki/kafki/stream"
	"github.com/kafki/kafki/topology"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// With caching on (the default), the DSL sees the runtime's record cache
// and forwards a key's count once per flush instead of on every update.
func TestCachingMergesUpdates(t *testing.T) {
	c := kafkatest.New(t, 1)
	in, out := c.Topic("words"), c.Topic("counts")
	c.CreateTopic(in, 1, nil)
	c.CreateTopic(out, 1, nil)
	const n = 1000
	words := make([]string, n)
	for i := range words {
		words[i] = "a"
	}
	produceWords(t, c.Client(), in, words)
	startApp(t, dslWordCount(t, in, out), c.Topic("caching"), testOpts(c, t.TempDir(), CommitInterval(time.Second))...)
	expectCounts(t, c, out, map[string]int64{"a": n}, 60*time.Second)

	cl := c.Client(kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{out: {0: kgo.NewOffset().AtStart()}}))
	defer cl.Close()
	var got []int64
	for len(got) == 0 || got[len(got)-1] != n {
		fs := cl.PollFetches(t.Context())
		if err := fs.Err0(); err != nil {
			t.Fatal(err)
		}
		fs.EachRecord(func(r *kgo.Record) {
			v, _ := strconv.ParseInt(string(r.Value), 10, 64)
			got = append(got, v)
		})
	}
	if len(got) >= n/2 {
		t.Fatalf("%d count updates forwarded for %d records: the cache was not used", len(got), n)
	}
}

// cachedWindowCounts counts words per 10 s tumbling window in a cached,
// in-memory window store (so that a restart restores it from its
// changelog) and writes "word@start" = count.
func cachedWindowCounts(t *testing.T, in, out string) *topology.Topology {
	t.Helper()
	b := stream.NewBuilder()
	words := stream.Stream(b, in, stream.ConsumedWith(serde.String(), serde.String()))
	counts := stream.CountWindowed(stream.WindowedBy(stream.GroupByKey(words), stream.TumblingWindows(10*time.Second, time.Hour)), stream.MaterializedAs[string, int64]("wcounts").WithEngine(state.InMemory))
	stream.Map(counts.ToStream(), func(k stream.Windowed[string], n int64) (string, string) {
		return k.Key + "@" + strconv.FormatInt(k.Window.Start().UnixMilli(), 10), strconv.FormatInt(n, 10)
	}).To(out)
	topo, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	return topo
}

// A cached windowed count logs only what its cache flushes or evicts; a
// new instance restores the windows from that changelog and goes on
// counting from them: the counts are exact after the restart, whether the
// second instance's cache is large or small enough to evict.
func TestCachedWindowCountRestores(t *testing.T) {
	c := kafkatest.New(t, 1)
	in, out := c.Topic("words"), c.Topic("wcounts")
	c.CreateTopic(in, 2, nil)
	c.CreateTopic(out, 1, nil)
	want := map[string]int64{}
	// Recent timestamps: the broker's retention would delete older ones.
	base := time.Now().Add(-time.Minute).UnixMilli() / 10_000 * 10_000
	produce := func(n int) {
		t.Helper()
		rs := make([]*kgo.Record, n)
		for i := range rs {
			w := []string{"a", "b", "c"}[i%3]
			ts := base + int64(i%40)*1000 // four 10 s windows
			rs[i] = &kgo.Record{Topic: in, Key: []byte(w), Value: []byte(w), Timestamp: time.UnixMilli(ts)}
			want[w+"@"+strconv.FormatInt(ts-ts%10_000, 10)]++
		}
		if err := c.Client().ProduceSync(t.Context(), rs...).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	appID := c.Topic("cached-windows")
	produce(600)
	app := startApp(t, cachedWindowCounts(t, in, out), appID, testOpts(c, t.TempDir(), CommitInterval(time.Second))...)
	expectCounts(t, c, out, want, 60*time.Second)
	if err := app.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	ends, err := c.Admin().ListEndOffsets(t.Context(), appID+"-wcounts-changelog")
	if err != nil {
		t.Fatal(err)
	}
	var logged int64
	ends.Each(func(o kadm.ListedOffset) { logged += o.Offset })
	if logged == 0 || logged >= 600 {
		t.Fatalf("the cached window store logged %d records for 600 updates of %d windows", logged, len(want))
	}
	produce(300)
	startApp(t, cachedWindowCounts(t, in, out), appID, testOpts(c, t.TempDir(), CacheMaxBytes(2048))...)
	expectCounts(t, c, out, want, 60*time.Second)
}
