package runtime

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/kafki/kafki/internal/kafkatest"
	"github.com/kafki/kafki/state"
)

func TestWordCountSingleInstance(t *testing.T) {
	c := kafkatest.New(t, 0)
	in, out := c.Topic("words"), c.Topic("counts")
	c.CreateTopic(in, 4, nil)
	c.CreateTopic(out, 4, nil)
	prod := c.Client()
	want := map[string]int64{}
	var words []string
	for i := 0; i < 2000; i++ {
		w := fmt.Sprintf("w%03d", i%150)
		words = append(words, w)
		want[w]++
	}
	produceWords(t, prod, in, words)
	app := startApp(t, wordCount(t, in, out, state.RocksDB), c.Topic("app"), testOpts(c, t.TempDir())...)
	expectCounts(t, c, out, want, 30*time.Second)
	waitFor(t, "running", 10*time.Second, func() bool { return app.State() == Running })
	m := app.Metrics()
	var processed int64
	for _, tm := range m.Tasks {
		processed += tm.Processed
	}
	if processed != 2000 || len(m.Tasks) != 4 {
		t.Fatalf("metrics: %d tasks, %d processed: %+v", len(m.Tasks), processed, m)
	}
	waitFor(t, "a commit and no lag", 10*time.Second, func() bool {
		m := app.Metrics()
		if m.Commits == 0 || m.CommitLatency.Count == 0 || m.Rebalances == 0 || len(m.Lag) != 4 {
			return false
		}
		for _, l := range m.Lag {
			if l.Lag != 0 || l.HighWatermark == 0 {
				return false
			}
		}
		return true
	})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := app.Close(ctx); err != nil {
		t.Fatalf("close: %v", err)
	}
	if app.State() != NotRunning {
		t.Fatalf("state after close: %v", app.State())
	}
}
