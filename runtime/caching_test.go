package runtime

import (
	"strconv"
	"testing"
	"time"

	"github.com/kafki/kafki/internal/kafkatest"
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
