package runtime

import (
	"context"
	"encoding/binary"
	"errors"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kafki/kafki/internal/kafkatest"
	"github.com/kafki/kafki/serde"
	"github.com/kafki/kafki/topology"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// failer passes records on and fails on the value "boom"; with once set it
// fails only the first time it sees it.
type failer struct {
	ctx  topology.ProcessorContext[string, int64]
	once *atomic.Bool
}

func (f *failer) Init(ctx topology.ProcessorContext[string, int64]) error { f.ctx = ctx; return nil }
func (f *failer) Process(rec topology.Record[string, int64]) error {
	if rec.Key == "boom" && (f.once == nil || f.once.CompareAndSwap(false, true)) {
		return errors.New("boom")
	}
	return f.ctx.Forward(rec)
}
func (f *failer) Close() error { return nil }

func int64Pipe(t *testing.T, in, out string, once *atomic.Bool) *topology.Topology {
	b := topology.NewBuilder()
	topology.AddSource(b, "source", serde.String(), serde.Int64(), in)
	topology.AddProcessor(b, "fail", func() topology.Processor[string, int64, string, int64] { return &failer{once: once} }, "source")
	topology.AddSink(b, "sink", out, serde.String(), serde.Int64(), "fail")
	topo, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	return topo
}

func i64(n int64) []byte { return binary.BigEndian.AppendUint64(nil, uint64(n)) }

// readN reads n records of topic from the start.
func readN(t *testing.T, c *kafkatest.Cluster, topic string, n int) []*kgo.Record {
	t.Helper()
	cl := c.Client(kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	var out []*kgo.Record
	deadline := time.Now().Add(30 * time.Second)
	for len(out) < n {
		if time.Now().After(deadline) {
			t.Fatalf("%s: got %d records, want %d", topic, len(out), n)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
		cl.PollFetches(ctx).EachRecord(func(r *kgo.Record) { out = append(out, r) })
		cancel()
	}
	return out
}

func TestErrorHandlers(t *testing.T) {
	c := kafkatest.New(t, 1)
	setup := func() (in, out string) {
		in, out = c.Topic("in"), c.Topic("out")
		c.CreateTopic(in, 1, nil)
		c.CreateTopic(out, 1, nil)
		produce := []*kgo.Record{
			{Topic: in, Key: []byte("a"), Value: i64(1)},
			{Topic: in, Key: []byte("bad"), Value: []byte("not an int64")},
			{Topic: in, Key: []byte("boom"), Value: i64(2)},
			{Topic: in, Key: []byte("b"), Value: i64(3)},
		}
		if err := c.Client().ProduceSync(context.Background(), produce...).FirstErr(); err != nil {
			t.Fatal(err)
		}
		return in, out
	}

	t.Run("dead letter queue and log-and-continue", func(t *testing.T) {
		in, out := setup()
		dlq := c.Topic("dlq")
		c.CreateTopic(dlq, 1, nil)
		app := startApp(t, int64Pipe(t, in, out, nil), c.Topic("app"), testOpts(c, t.TempDir(),
			OnDeserializationError(DeadLetterQueue(dlq)), OnProcessingError(LogAndContinue))...)
		got := readN(t, c, out, 2)
		if string(got[0].Key) != "a" || string(got[1].Key) != "b" {
			t.Fatalf("output keys %q %q", got[0].Key, got[1].Key)
		}
		dead := readN(t, c, dlq, 1)[0]
		headers := map[string]string{}
		for _, h := range dead.Headers {
			headers[h.Key] = string(h.Value)
		}
		if string(dead.Value) != "not an int64" || headers[HeaderDLQTopic] != in || headers[HeaderDLQPartition] != "0" ||
			headers[HeaderDLQOffset] != "1" || headers[HeaderDLQErrorMessage] == "" {
			t.Fatalf("dead letter %q with headers %v", dead.Value, headers)
		}
		waitFor(t, "drops counted", 10*time.Second, func() bool {
			d := app.Metrics().Dropped
			return d[DropDeserialization] == 1 && d[DropProcessing] == 1
		})
	})

	t.Run("log-and-fail stops the instance", func(t *testing.T) {
		in, out := setup()
		var mu sync.Mutex
		var states []string
		app := startApp(t, int64Pipe(t, in, out, nil), c.Topic("app"), testOpts(c, t.TempDir(),
			OnStateChange(func(n, _ State) { mu.Lock(); states = append(states, n.String()); mu.Unlock() }))...)
		select {
		case <-app.Done():
		case <-time.After(30 * time.Second):
			t.Fatal("instance did not stop")
		}
		if app.State() != Error || app.Err() == nil || !strings.Contains(app.Err().Error(), "deserialize") {
			t.Fatalf("state %v, err %v", app.State(), app.Err())
		}
		mu.Lock()
		defer mu.Unlock()
		if len(states) < 3 || states[0] != "REBALANCING" || states[len(states)-2] != "PENDING_ERROR" || states[len(states)-1] != "ERROR" {
			t.Fatalf("state changes %v", states)
		}
	})

	t.Run("replace thread", func(t *testing.T) {
		in, out := setup()
		var once atomic.Bool
		var calls atomic.Int32
		app := startApp(t, int64Pipe(t, in, out, &once), c.Topic("app"), testOpts(c, t.TempDir(),
			OnDeserializationError(LogAndContinue),
			OnUncaughtError(func(error) UncaughtErrorResponse { calls.Add(1); return ReplaceThread }))...)
		got := readN(t, c, out, 3) // a, boom (on the second try), b; "a" may come twice
		keys := map[string]bool{}
		for _, r := range got {
			keys[string(r.Key)] = true
		}
		if !keys["boom"] || calls.Load() != 1 {
			t.Fatalf("keys %v, handler calls %d", keys, calls.Load())
		}
		waitFor(t, "running again", 30*time.Second, func() bool { return app.State() == Running })
	})
}

func TestShutdownApplication(t *testing.T) {
	c := kafkatest.New(t, 1)
	in, out := c.Topic("in"), c.Topic("out")
	c.CreateTopic(in, 2, nil)
	c.CreateTopic(out, 2, nil)
	appID := c.Topic("app")
	opts := func() []Opt {
		return testOpts(c, t.TempDir(), OnUncaughtError(func(error) UncaughtErrorResponse { return ShutdownApplication }))
	}
	a1 := startApp(t, int64Pipe(t, in, out, nil), appID, opts()...)
	a2 := startApp(t, int64Pipe(t, in, out, nil), appID, opts()...)
	waitFor(t, "both running with a task each", 30*time.Second, func() bool {
		return a1.State() == Running && a2.State() == Running && len(a1.LocalThreads()[0].Active) == 1 && len(a2.LocalThreads()[0].Active) == 1
	})
	if err := c.Client().ProduceSync(context.Background(), &kgo.Record{Topic: in, Partition: 0, Key: []byte("boom"), Value: i64(1)}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	for _, a := range []*App{a1, a2} {
		select {
		case <-a.Done():
		case <-time.After(60 * time.Second):
			t.Fatalf("instance still %v", a.State())
		}
		if a.State() != Error {
			t.Fatalf("state %v", a.State())
		}
	}
	// One failed with the processing error, the other was told to stop.
	if !errors.Is(a1.Err(), ErrApplicationShutdown) && !errors.Is(a2.Err(), ErrApplicationShutdown) {
		t.Fatalf("errors %v and %v: neither was asked to stop", a1.Err(), a2.Err())
	}
}

// TestProductionFailureLogsOnceAndNamesInput sends records the broker
// refuses (larger than the output topic's max.message.bytes): the default
// handler is asked, and logs, once for the whole failed commit, the
// thread's error counts the other failed records, and the handler's
// context names the input record that caused the refused one.
func TestProductionFailureLogsOnceAndNamesInput(t *testing.T) {
	c := kafkatest.New(t, 0)
	in, out := c.Topic("in"), c.Topic("out")
	c.CreateTopic(in, 1, nil)
	maxBytes := "1000"
	c.CreateTopic(out, 1, map[string]*string{"max.message.bytes": &maxBytes})
	const n = 300
	recs := make([]*kgo.Record, n)
	for i := range recs {
		recs[i] = &kgo.Record{Topic: in, Key: []byte(strconv.Itoa(i)), Value: make([]byte, 2000)}
	}
	if err := c.Client().ProduceSync(context.Background(), recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	b := topology.NewBuilder()
	topology.AddSource(b, "source", serde.String(), serde.Bytes(), in)
	topology.AddSink(b, "sink", out, serde.String(), serde.Bytes(), "source")
	topo, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var msgs []string
	var calls []HandlerContext
	handler := func(ctx HandlerContext, rec *topology.RawRecord, err error) HandlerResponse {
		mu.Lock()
		calls = append(calls, ctx)
		mu.Unlock()
		return LogAndFail(ctx, rec, err)
	}
	app := startApp(t, topo, c.Topic("app"), append(testOpts(c, t.TempDir()),
		Logger(slog.New(captureHandler{&mu, &msgs})), OnProductionError(handler))...)
	select {
	case <-app.Done():
	case <-time.After(60 * time.Second):
		t.Fatal("the instance did not stop on a production error")
	}
	mu.Lock()
	defer mu.Unlock()
	logged := 0
	for _, m := range msgs {
		if m == "record failed; stopping the stream thread" {
			logged++
		}
	}
	if logged != 1 || len(calls) != 1 {
		t.Fatalf("production failure logged %d times, handler called %d times; want once", logged, len(calls))
	}
	if ctx := calls[0]; ctx.Topic != in || ctx.Partition != 0 || ctx.Offset < 0 || ctx.Offset >= n {
		t.Fatalf("handler context names input %s/%d@%d, want a record of %s/0", ctx.Topic, ctx.Partition, ctx.Offset, in)
	}
	if err := app.Err(); !errors.Is(err, kerr.MessageTooLarge) || !strings.Contains(err.Error(), "input record "+in+"/0@") ||
		!strings.Contains(err.Error(), "more records failed") {
		t.Fatalf("instance error: %v", err)
	}
}

// TestProductionFencingIsTaskMigrated checks how a task's collector takes
// records the broker failed, as Kafka Streams' RecordCollectorImpl does: a
// fenced producer or a lost epoch or sequence is "task migrated" without
// asking the production handler (which could let the records go and
// commit past them, losing them under at-least-once); records the thread's
// own abort dropped are not failures; any other error goes to the handler.
func TestProductionFencingIsTaskMigrated(t *testing.T) {
	var asked []error
	app := &App{metrics: newMetrics()}
	app.cfg.onProduce = func(_ HandlerContext, _ *topology.RawRecord, err error) HandlerResponse {
		asked = append(asked, err)
		return Continue
	}
	th := &streamThread{app: app, logger: slog.New(slog.DiscardHandler)}
	newColl := func() *collector {
		at := &activeTask{th: th, counters: app.metrics.task("0_0")}
		at.coll = newCollector(nil, at)
		return at.coll
	}
	rec := func() *kgo.Record { return &kgo.Record{Topic: "out", Partition: 1, Key: []byte("k")} }
	for _, err := range []error{kerr.ProducerFenced, kerr.InvalidProducerEpoch, kerr.InvalidProducerIDMapping, kerr.OutOfOrderSequenceNumber} {
		c := newColl()
		c.failed(rec(), err)
		got := c.produceErr()
		if !errors.Is(got, errTaskMigrated) || !errors.Is(got, err) {
			t.Errorf("%v: commit error %v, want task migrated", err, got)
		}
	}
	c := newColl()
	c.failed(rec(), kgo.ErrAborting)
	if err := c.produceErr(); err != nil {
		t.Errorf("a record dropped by the thread's own abort fails the commit: %v", err)
	}
	if len(asked) != 0 {
		t.Fatalf("production handler asked about %v", asked)
	}
	c = newColl()
	c.failed(rec(), kerr.MessageTooLarge)
	if len(asked) != 1 || !errors.Is(asked[0], kerr.MessageTooLarge) || c.produceErr() != nil {
		t.Fatalf("a refused record: handler asked %v, commit error %v; want the handler once (it said continue)", asked, c.produceErr())
	}
}
