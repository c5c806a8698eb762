package runtime

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/kafki/kafki/changelog"
	"github.com/kafki/kafki/internal/kafkatest"
	"github.com/kafki/kafki/state"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

// restoreLog is a StateRestoreListener that keeps what it was told about
// one changelog partition, and slows restoration down by a pause per batch
// (so that a small store takes longer to restore than the rebalance
// timeout), noting whether another task had processed records by then.
type restoreLog struct {
	tp      changelog.TopicPartition
	pause   time.Duration
	overlap func() bool // another task has processed records

	mu         sync.Mutex
	starts     int
	start, end int64 // of the last restoration
	batched    int64 // records in the batches of the last restoration
	total      int64 // OnRestoreEnd's count of the last restoration
	ended      bool
	sawOverlap bool
	firstBatch chan struct{}
}

func (l *restoreLog) OnRestoreStart(_ string, tp changelog.TopicPartition, start, end int64) {
	if tp != l.tp {
		return
	}
	l.mu.Lock()
	l.starts++
	l.start, l.end, l.batched, l.total, l.ended = start, end, 0, 0, false
	l.mu.Unlock()
}

func (l *restoreLog) OnBatchRestored(_ string, tp changelog.TopicPartition, _ int64, n int) {
	if tp != l.tp {
		return
	}
	l.mu.Lock()
	l.batched += int64(n)
	if l.overlap() {
		l.sawOverlap = true
	}
	select {
	case <-l.firstBatch:
	default:
		close(l.firstBatch)
	}
	l.mu.Unlock()
	time.Sleep(l.pause)
}

func (l *restoreLog) OnRestoreEnd(_ string, tp changelog.TopicPartition, total int64) {
	if tp != l.tp {
		return
	}
	l.mu.Lock()
	l.total, l.ended = total, true
	l.mu.Unlock()
}

// TestRestoreOffTheRebalancePath restores a large store while the
// rebalance timeout is much shorter than the restoration and another
// instance joins and leaves: restoration runs in the state updater, so
// the rebalance callbacks return at once and no member is lost; the
// instance's other task processes during the restoration; the counts are
// exact at the end, restored state included; the restore listener's
// counts match the changelog. KAFKI_RESTORE_KEYS raises the store size
// (the default keeps the test to seconds; the size is 2000000).
//
// The in-process cluster's log cleaner is held off: kfake compacts every
// compacted partition in full (two passes decoding every record, a map of
// every key) on the goroutine that serves all requests, every
// log.cleaner.backoff.ms (500 ms in kafkatest). With 2M unique keys it
// drops nothing and, as the prefill grows the partition, soon spends all
// its time compacting: the produce stalls. The listener's counts below
// also assume no compaction has run.
func TestRestoreOffTheRebalancePath(t *testing.T) {
	keys := 50_000
	if s := os.Getenv("KAFKI_RESTORE_KEYS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			t.Fatalf("KAFKI_RESTORE_KEYS=%q", s)
		}
		keys = n
	}
	c := kafkatest.New(t, 0, kfake.BrokerConfigs(map[string]string{"log.cleaner.backoff.ms": "3600000"}))
	in, out, appID := c.Topic("words"), c.Topic("counts"), c.Topic("app")
	c.CreateTopic(in, 2, nil)
	c.CreateTopic(out, 2, nil)
	logTopic := changelog.ChangelogTopic(appID, "counts")
	compact := "compact"
	c.CreateTopic(logTopic, 2, map[string]*string{"cleanup.policy": &compact})

	// The changelog of task 0_0 holds keys counted once each.
	prod := c.Client(kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.ProducerLinger(10*time.Millisecond),
		kgo.MaxBufferedRecords(1<<20))
	ctx := context.Background()
	var perr error
	var pmu sync.Mutex
	for i := 0; i < keys; i++ {
		prod.Produce(ctx, &kgo.Record{Topic: logTopic, Partition: 0, Key: fmt.Appendf(nil, "k%08d", i), Value: []byte("1")},
			func(_ *kgo.Record, err error) {
				if err != nil {
					pmu.Lock()
					perr = err
					pmu.Unlock()
				}
			})
	}
	if err := prod.Flush(ctx); err != nil || perr != nil {
		t.Fatalf("prefill changelog: %v %v", err, perr)
	}
	t.Logf("prefilled %d keys", keys)

	// Words for both tasks; those of 0_1 are processed while 0_0 restores.
	part := func(key string) int32 {
		return int32(kgo.StickyKeyPartitioner(nil).ForTopic(in).Partition(&kgo.Record{Key: []byte(key)}, 2))
	}
	want := map[string]int64{}
	var words, words1 []string
	for i := 0; i < 60; i++ {
		w := fmt.Sprintf("w%02d", i)
		words = append(words, w)
		want[w] = 1
		if part(w) == 1 {
			words1 = append(words1, w)
		}
	}
	produceWords(t, c.Client(), in, words)

	var app *App
	var appMu sync.Mutex
	rl := &restoreLog{tp: changelog.TopicPartition{Topic: logTopic, Partition: 0}, firstBatch: make(chan struct{}),
		overlap: func() bool {
			appMu.Lock()
			a := app
			appMu.Unlock()
			return a != nil && a.Metrics().Tasks["0_1"].Processed > 0
		}}
	if keys < 1_000_000 {
		rl.pause = 1500 * time.Millisecond // 5 batches of 10,000: 7.5 s
	}
	const rebalanceTimeout = 3 * time.Second
	opts := append(testOpts(c, t.TempDir()), RebalanceTimeout(rebalanceTimeout), OnRestore(rl))
	appMu.Lock()
	app = startApp(t, wordCount(t, in, out, state.RocksDB), appID, opts...)
	appMu.Unlock()

	select {
	case <-rl.firstBatch:
	case <-time.After(60 * time.Second):
		t.Fatal("restoration did not start")
	}
	// 0_1 counts its words while 0_0 restores.
	want1 := map[string]int64{}
	for _, w := range words1 {
		want1[w] = 1
	}
	expectPartialCounts(t, c, out, want1, 30*time.Second)
	if s := app.State(); s != Rebalancing {
		t.Errorf("state while restoring: %v, want REBALANCING", s)
	}
	if m := app.Metrics(); m.RestoreLag <= 0 {
		t.Errorf("restore lag while restoring: %d", m.RestoreLag)
	}

	// Another instance joins and leaves while the restoration goes on.
	rebs := app.Metrics().Rebalances
	app2 := startApp(t, wordCount(t, in, out, state.RocksDB), appID, append(testOpts(c, t.TempDir()), RebalanceTimeout(rebalanceTimeout))...)
	waitFor(t, "the second instance assigned", 30*time.Second, func() bool {
		return len(app2.LocalThreads()) > 0 && len(app2.LocalThreads()[0].Active) > 0
	})
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	if err := app2.Close(cctx); err != nil {
		t.Fatalf("close second instance: %v", err)
	}
	cancel()
	waitFor(t, "the first instance rebalanced", 30*time.Second, func() bool { return app.Metrics().Rebalances > rebs })

	waitFor(t, "restored and running", 120*time.Second, func() bool {
		rl.mu.Lock()
		ended := rl.ended
		rl.mu.Unlock()
		return ended && app.State() == Running
	})
	// Restored keys of 0_0 count on from their restored value.
	var more []string
	for i := 0; len(more) < 5; i++ {
		if k := fmt.Sprintf("k%08d", i); part(k) == 0 {
			more = append(more, k)
			want[k] = 2
		}
	}
	for _, w := range words {
		want[w] = 2
	}
	produceWords(t, c.Client(), in, append(more, words...))
	expectCounts(t, c, out, want, 60*time.Second)

	m := app.Metrics()
	if m.Lost != 0 {
		t.Errorf("the first instance lost its partitions %d times", m.Lost)
	}
	if m2 := app2.Metrics(); m2.Lost != 0 {
		t.Errorf("the second instance lost its partitions %d times", m2.Lost)
	}
	if m.RestoreLag != 0 {
		t.Errorf("restore lag after restoration: %d", m.RestoreLag)
	}
	rl.mu.Lock()
	defer rl.mu.Unlock()
	if !rl.sawOverlap {
		t.Error("task 0_1 processed nothing while 0_0 restored")
	}
	// Every changelog offset is a record (no compaction has run, no
	// transactions): the listener's counts must cover the range exactly.
	if rl.batched != rl.total || rl.total != rl.end-rl.start || rl.end < int64(keys) {
		t.Errorf("last restoration of %d: [%d, %d), batches %d records, end says %d", rl.starts, rl.start, rl.end, rl.batched, rl.total)
	}
	t.Logf("%d keys; restorations of 0_0: %d; last [%d, %d) %d records; rebalances %d", keys, rl.starts, rl.start, rl.end, rl.total, m.Rebalances)
}

// expectPartialCounts is expectCounts for some of the keys of topic.
func expectPartialCounts(t testing.TB, c *kafkatest.Cluster, topic string, want map[string]int64, timeout time.Duration) {
	t.Helper()
	cl := c.Client(kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	got := map[string]int64{}
	deadline := time.Now().Add(timeout)
	for {
		done := true
		for k, v := range want {
			done = done && got[k] == v
		}
		if done {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("counts in %s after %v: %s", topic, timeout, diffCounts(got, want))
		}
		pctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
		fs := cl.PollFetches(pctx)
		cancel()
		fs.EachRecord(func(r *kgo.Record) {
			n, _ := strconv.ParseInt(string(r.Value), 10, 64)
			got[string(r.Key)] = n
		})
	}
}
