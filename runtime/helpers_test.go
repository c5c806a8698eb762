package runtime

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/kafki/kafki/internal/kafkatest"
	"github.com/kafki/kafki/serde"
	"github.com/kafki/kafki/state"
	"github.com/kafki/kafki/topology"
	"github.com/twmb/franz-go/pkg/kgo"
)

// counter counts records per key in a key-value store and forwards the
// new count as a decimal string: word count with the Processor API.
type counter struct {
	ctx   topology.ProcessorContext[string, string]
	store state.KeyValueStore
	name  string
}

func (c *counter) Init(ctx topology.ProcessorContext[string, string]) error {
	c.ctx = ctx
	s, err := ctx.StateStore(c.name)
	if err != nil {
		return err
	}
	c.store = s.(state.KeyValueStore)
	return nil
}

func (c *counter) Process(rec topology.Record[string, string]) error {
	k := []byte(rec.Key)
	old, err := c.store.Get(k)
	if err != nil {
		return err
	}
	n := int64(0)
	if old != nil {
		if n, err = strconv.ParseInt(string(old), 10, 64); err != nil {
			return err
		}
	}
	n++
	v := strconv.AppendInt(nil, n, 10)
	if err := c.store.Put(k, v); err != nil {
		return err
	}
	return c.ctx.Forward(topology.Record[string, string]{Key: rec.Key, Value: string(v), Timestamp: rec.Timestamp})
}

func (c *counter) Close() error { return nil }

// wordCount is a word-count topology over pre-keyed words: in -> count in a
// logged store -> out.
func wordCount(t testing.TB, in, out string, engine state.Engine) *topology.Topology {
	t.Helper()
	b := topology.NewBuilder()
	topology.AddSource(b, "source", serde.String(), serde.String(), in)
	topology.AddProcessor(b, "count", func() topology.Processor[string, string, string, string] {
		return &counter{name: "counts"}
	}, "source")
	b.AddStateStore(state.Spec{Name: "counts", Kind: state.KindKeyValue, Engine: engine}, "count")
	topology.AddSink(b, "sink", out, serde.String(), serde.String(), "count")
	topo, err := b.Build()
	if err != nil {
		t.Fatalf("build topology: %v", err)
	}
	return topo
}

// testLogger logs to stderr with KAFKI_TEST_LOG set, and nowhere otherwise.
func testLogger() *slog.Logger {
	switch os.Getenv("KAFKI_TEST_LOG") {
	case "":
	case "warn":
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	case "info":
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	default:
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

// testOpts are the options of every test instance: fast commits, the
// shortest session timeout kfake accepts.
func testOpts(c *kafkatest.Cluster, dir string, extra ...Opt) []Opt {
	return append([]Opt{
		SeedBrokers(c.Brokers...),
		StateDir(dir),
		CommitInterval(100 * time.Millisecond),
		SessionTimeout(6 * time.Second),
		RebalanceTimeout(20 * time.Second),
		Logger(testLogger()),
	}, extra...)
}

func produceWords(t testing.TB, cl *kgo.Client, topic string, words []string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	rs := make([]*kgo.Record, len(words))
	for i, w := range words {
		rs[i] = &kgo.Record{Topic: topic, Key: []byte(w), Value: []byte(w)}
	}
	if err := cl.ProduceSync(ctx, rs...).FirstErr(); err != nil {
		t.Fatalf("produce: %v", err)
	}
}

// expectCounts reads topic from the start until the latest value of every
// key equals want, and fails the test at the deadline with the difference.
func expectCounts(t testing.TB, c *kafkatest.Cluster, topic string, want map[string]int64, timeout time.Duration) {
	t.Helper()
	cl := c.Client(kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	got := map[string]int64{}
	deadline := time.Now().Add(timeout)
	for {
		if equalCounts(got, want) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("counts in %s after %v: %s", topic, timeout, diffCounts(got, want))
		}
		ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
		fs := cl.PollFetches(ctx)
		cancel()
		fs.EachRecord(func(r *kgo.Record) {
			n, err := strconv.ParseInt(string(r.Value), 10, 64)
			if err != nil {
				t.Fatalf("bad count %q for %q", r.Value, r.Key)
			}
			got[string(r.Key)] = n
		})
	}
}

func equalCounts(got, want map[string]int64) bool {
	if len(got) != len(want) {
		return false
	}
	for k, v := range want {
		if got[k] != v {
			return false
		}
	}
	return true
}

func diffCounts(got, want map[string]int64) string {
	out := ""
	n := 0
	for k, v := range want {
		if got[k] != v && n < 10 {
			out += fmt.Sprintf("%s: got %d want %d; ", k, got[k], v)
			n++
		}
	}
	for k := range got {
		if _, ok := want[k]; !ok && n < 10 {
			out += fmt.Sprintf("%s: unexpected; ", k)
			n++
		}
	}
	return fmt.Sprintf("%d keys, want %d: %s", len(got), len(want), out)
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t testing.TB, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func startApp(t testing.TB, topo *topology.Topology, appID string, opts ...Opt) *App {
	t.Helper()
	app, err := New(topo, appID, opts...)
	if err != nil {
		t.Fatalf("new app: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := app.Start(ctx); err != nil {
		t.Fatalf("start app: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		app.Close(ctx)
	})
	return app
}
