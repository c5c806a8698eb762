package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/kafki/kafki/changelog"
	"github.com/kafki/kafki/runtime"
	"github.com/kafki/kafki/serde"
	"github.com/kafki/kafki/state"
	"github.com/kafki/kafki/state/pebble"
	"github.com/kafki/kafki/state/rocksdb"
	"github.com/kafki/kafki/stream"
	"github.com/kafki/kafki/topology"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// scenario is one row of the table.
type scenario struct {
	name  string
	title string
	// input names what a record is, for the table's notes.
	input string
	// needs says which prepared input the parent must produce first.
	needs string // "lines", "restore" or "nexmark"
	run   func(ctx context.Context, e env) (measure, error)
}

// scenarios are the rows of the default run, in order; the raw pipe comes
// first because the others are compared with it.
var scenarios = []scenario{
	{name: "raw-pipe", title: "raw franz-go consume→produce pipe", input: "line", needs: "lines", run: rawPipe},
	{name: "stateless", title: "stateless chain (filter, mapValues ×2, filter, to)", input: "line", needs: "lines", run: stateless},
	{name: "wordcount-rocksdb", title: "word count, RocksDB + changelog + cache", input: "line", needs: "lines",
		run: func(ctx context.Context, e env) (measure, error) {
			return wordCount(ctx, e, "wordcount-rocksdb", state.RocksDB, true)
		}},
	{name: "wordcount-memory", title: "word count, in-memory store + changelog + cache", input: "line", needs: "lines",
		run: func(ctx context.Context, e env) (measure, error) {
			return wordCount(ctx, e, "wordcount-memory", state.InMemory, true)
		}},
	{name: "wordcount-rocksdb-nocache", title: "word count, RocksDB + changelog, cache off", input: "line", needs: "lines",
		run: func(ctx context.Context, e env) (measure, error) {
			return wordCount(ctx, e, "wordcount-rocksdb-nocache", state.RocksDB, false)
		}},
	{name: "wordcount-pebble-nocache", title: "word count, Pebble + changelog, cache off", input: "line", needs: "lines",
		run: func(ctx context.Context, e env) (measure, error) {
			return wordCount(ctx, e, "wordcount-pebble-nocache", state.Pebble, false)
		}},
	{name: "wordcount-memory-nocache", title: "word count, in-memory store + changelog, cache off", input: "line", needs: "lines",
		run: func(ctx context.Context, e env) (measure, error) {
			return wordCount(ctx, e, "wordcount-memory-nocache", state.InMemory, false)
		}},
	{name: "hopping-window", title: "hopping-window count with suppression", input: "line", needs: "window-lines", run: hoppingWindow},
	{name: "hopping-window-1p", title: "hopping-window count with suppression, input in one partition (no late drops)", input: "line", needs: "window-lines-1p",
		run: func(ctx context.Context, e env) (measure, error) {
			return hoppingWindowOn(ctx, e, "hopping-window-1p", e.WindowLines1PTopic, state.RocksDB)
		}},
	{name: "hopping-window-pebble", title: "hopping-window count with suppression (Pebble)", input: "line", needs: "window-lines",
		run: func(ctx context.Context, e env) (measure, error) {
			return hoppingWindowOn(ctx, e, "hopping-window-pebble", e.WindowLinesTopic, state.Pebble)
		}},
	{name: "hopping-window-dense", title: "hopping-window count with suppression, on the word-count lines in one partition (1 ms apart)", input: "line", needs: "lines-1p",
		run: hoppingWindowDense},
	{name: "stream-table-join", title: "stream-table join", input: "line", needs: "lines", run: streamTableJoin},
	{name: "stream-stream-join", title: "stream-stream outer join (5 s windows)", input: "line", needs: "lines", run: streamStreamJoin},
	{name: "wordcount-eos", title: "word count, exactly-once v2", input: "line", needs: "lines", run: wordCountEOS},
	{name: "restore", title: "restore a store from its changelog (RocksDB)", input: "changelog record", needs: "restore",
		run: func(ctx context.Context, e env) (measure, error) { return restore(ctx, e, state.RocksDB) }},
	{name: "restore-pebble", title: "restore a store from its changelog (Pebble)", input: "changelog record", needs: "restore",
		run: func(ctx context.Context, e env) (measure, error) { return restore(ctx, e, state.Pebble) }},
}

func scenarioByName(name string) (scenario, bool) {
	for _, s := range append(scenarios, nexmarkScenarios()...) {
		if s.name == name {
			return s, true
		}
	}
	return scenario{}, false
}

// rawPipe is the ceiling: a franz-go client that consumes the lines and
// produces each record, unchanged, to another topic. No group, no state.
func rawPipe(ctx context.Context, e env) (measure, error) {
	out := "bench-raw-pipe-" + e.RunID + "-out"
	t, err := startTimer(e)
	if err != nil {
		return measure{}, err
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(e.Brokers...), kgo.ConsumeTopics(e.LinesTopic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.AllowAutoTopicCreation(),
		kgo.ProducerLinger(0), kgo.MaxBufferedRecords(100_000), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		return measure{}, fmt.Errorf("client: %w", err)
	}
	defer cl.Close()
	if err := createTopic(ctx, e, out, e.Partitions); err != nil {
		return measure{}, err
	}
	var (
		consumed int64
		failed   atomic.Pointer[error]
	)
	done := func(_ *kgo.Record, err error) {
		if err != nil {
			failed.CompareAndSwap(nil, &err)
		}
	}
	for consumed < e.Records {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			return measure{}, err
		}
		var ferr error
		fs.EachError(func(_ string, _ int32, err error) { ferr = err })
		if ferr != nil {
			return measure{}, fmt.Errorf("fetch: %w", ferr)
		}
		fs.EachRecord(func(r *kgo.Record) {
			consumed++
			cl.Produce(ctx, &kgo.Record{Topic: out, Partition: r.Partition, Key: r.Key, Value: r.Value, Timestamp: r.Timestamp}, done)
		})
	}
	if err := cl.Flush(ctx); err != nil {
		return measure{}, fmt.Errorf("flush: %w", err)
	}
	if p := failed.Load(); p != nil {
		return measure{}, fmt.Errorf("produce: %w", *p)
	}
	return t.stop(consumed)
}

// stateless is a chain of stateless DSL operators from the lines to an
// output topic: no store, no repartition.
func stateless(ctx context.Context, e env) (measure, error) {
	b := stream.NewBuilder()
	s := stream.Stream(b, e.LinesTopic, stream.ConsumedWith(serde.Bytes(), serde.String()))
	s = s.Filter(func(_ []byte, v string) bool { return v != "" })
	s = stream.MapValues(s, strings.ToUpper)
	s = s.Filter(func(_ []byte, v string) bool { return !strings.HasPrefix(v, "#") })
	s = stream.MapValues(s, func(v string) string { return v + "!" })
	out := "bench-stateless-" + e.RunID + "-out"
	s.To(out)
	topo, err := b.Build()
	if err != nil {
		return measure{}, err
	}
	if err := createTopic(ctx, e, out, e.Partitions); err != nil {
		return measure{}, err
	}
	return runApp(ctx, e, topo, "bench-stateless-"+e.RunID, e.Records)
}

// wordCountTopology is the word count of examples/wordcount.
func wordCountTopology(e env, name string, engine state.Engine, caching bool) (*topology.Topology, string, error) {
	b := stream.NewBuilder()
	lines := stream.Stream(b, e.LinesTopic, stream.ConsumedWith(serde.Bytes(), serde.String()))
	words := stream.FlatMapValues(lines, strings.Fields)
	byWord := stream.GroupBy(words, func(_ []byte, w string) string { return w })
	store := stream.MaterializedAs[string, int64]("counts").WithEngine(engine)
	if !caching {
		store = store.WithCachingDisabled()
	}
	out := "bench-" + name + "-" + e.RunID + "-out"
	stream.Count(byWord, store).ToStream().To(out)
	topo, err := b.Build()
	return topo, out, err
}

func wordCount(ctx context.Context, e env, name string, engine state.Engine, caching bool) (measure, error) {
	topo, out, err := wordCountTopology(e, name, engine, caching)
	if err != nil {
		return measure{}, err
	}
	if err := createTopic(ctx, e, out, e.Partitions); err != nil {
		return measure{}, err
	}
	// Every line, then every word read back from the repartition topic.
	m, err := runApp(ctx, e, topo, "bench-"+name+"-"+e.RunID, e.Records+e.Words)
	if err != nil {
		return m, err
	}
	m.Records = e.Records
	m.Note, err = outputNote(ctx, e, out, e.Words)
	return m, err
}

// outputNote says how many records a scenario wrote to out: for word
// count, how much the record cache saved (without one, every word is an
// update).
func outputNote(ctx context.Context, e env, out string, words int64) (string, error) {
	b := &broker{addrs: e.Brokers}
	adm, done, err := b.admin()
	if err != nil {
		return "", err
	}
	defer done()
	ends, err := adm.ListEndOffsets(ctx, out)
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		return "", fmt.Errorf("count output records: %w", err)
	}
	var n int64
	ends.Each(func(o kadm.ListedOffset) { n += o.Offset })
	return fmt.Sprintf("%d output records for %d words", n, words), nil
}

// wordCountEOS is word count under exactly_once_v2. It reports the
// runtime's refusal as "not available" until transactions exist.
func wordCountEOS(ctx context.Context, e env) (measure, error) {
	topo, out, err := wordCountTopology(e, "wordcount-eos", state.RocksDB, true)
	if err != nil {
		return measure{}, err
	}
	if _, err := runtime.New(topo, "probe", runtime.SeedBrokers(e.Brokers...), runtime.Guarantee(runtime.ExactlyOnceV2)); errors.Is(err, runtime.ErrNotSupported) {
		return measure{}, errUnavailable{"exactly-once is not implemented yet (runtime.New refuses exactly_once_v2)"}
	}
	if err := createTopic(ctx, e, out, e.Partitions); err != nil {
		return measure{}, err
	}
	m, err := runApp(ctx, e, topo, "bench-wordcount-eos-"+e.RunID, e.Records+e.Words, runtime.Guarantee(runtime.ExactlyOnceV2))
	m.Records = e.Records
	return m, err
}

// runApp runs topo until its tasks have processed want records, then
// closes it (which flushes caches and stores, waits for the produced
// records and commits). The timed section runs from the moment the
// instance is RUNNING (group joined, tasks assigned) until Close returns.
func runApp(ctx context.Context, e env, topo *topology.Topology, appID string, want int64, extra ...runtime.Opt) (measure, error) {
	return runAppUntil(ctx, e, topo, appID, want, false, extra...)
}

// runAppUntil is runApp; with idle set, want is only a lower bound (the
// topology re-reads an unknown number of records from its repartition
// topics) and the run ends once, past it, the instance is idle: no lag on
// any input partition and no record processed for a few polls.
func runAppUntil(ctx context.Context, e env, topo *topology.Topology, appID string, want int64, idle bool, extra ...runtime.Opt) (measure, error) {
	dir, err := os.MkdirTemp(e.TmpDir, appID+"-")
	if err != nil {
		return measure{}, err
	}
	defer os.RemoveAll(dir)
	var (
		mu      sync.Mutex
		started *timer
		tErr    error
	)
	opts := append([]runtime.Opt{
		runtime.SeedBrokers(e.Brokers...),
		runtime.StateDir(dir),
		runtime.OnStateChange(func(next, _ runtime.State) {
			if next != runtime.Running {
				return
			}
			mu.Lock()
			defer mu.Unlock()
			if started == nil {
				t, err := startTimer(e)
				started, tErr = &t, err
			}
		}),
	}, extra...)
	app, err := runtime.New(topo, appID, opts...)
	if err != nil {
		return measure{}, err
	}
	if err := app.Start(ctx); err != nil {
		return measure{}, fmt.Errorf("start: %w", err)
	}
	waitErr := waitProcessed(ctx, app, want)
	if waitErr == nil && idle {
		waitErr = waitIdle(ctx, app)
	}
	closeCtx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := errors.Join(waitErr, app.Close(closeCtx)); err != nil {
		return measure{}, err
	}
	mu.Lock()
	defer mu.Unlock()
	if started == nil {
		return measure{}, errors.New("the instance never reached RUNNING")
	}
	if tErr != nil {
		return measure{}, tErr
	}
	m, err := started.stop(processed(app))
	m.Late = app.Metrics().Dropped[stream.DropLate]
	return m, err
}

// processed sums the records the instance's active tasks processed.
func processed(app *runtime.App) int64 { return processedIn(app.Metrics()) }

// processedIn sums the records the active tasks of m processed.
func processedIn(m runtime.Snapshot) int64 {
	var n int64
	for _, t := range m.Tasks {
		if !t.Standby {
			n += t.Processed
		}
	}
	return n
}

// waitProcessed polls the instance's metrics until its active tasks have
// processed want records.
func waitProcessed(ctx context.Context, app *runtime.App, want int64) error {
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		n := processed(app)
		if n >= want {
			return nil
		}
		select {
		case <-app.Done():
			return fmt.Errorf("instance stopped after %d of %d records: %w", n, want, app.Err())
		case <-ctx.Done():
			return fmt.Errorf("after %d of %d records: %w", n, want, ctx.Err())
		case <-tick.C:
		}
	}
}

// waitIdle waits until the instance has had no lag and processed nothing
// for idlePolls polls in a row.
func waitIdle(ctx context.Context, app *runtime.App) error {
	const idlePolls = 10
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	last, quiet := int64(-1), 0
	for quiet < idlePolls {
		select {
		case <-app.Done():
			return fmt.Errorf("instance stopped: %w", app.Err())
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
		m := app.Metrics()
		n, lag := processedIn(m), int64(0)
		for _, l := range m.Lag {
			lag += l.Lag
		}
		if n == last && lag == 0 {
			quiet++
		} else {
			quiet = 0
		}
		last = n
	}
	return nil
}

// restore restores a RocksDB key-value store from the prepared changelog
// with the changelog package's Restorer, as a task does before it runs;
// the timed section includes the final flush of the memtables.
func restore(ctx context.Context, e env, engine state.Engine) (measure, error) {
	r, err := changelog.NewRestorer(changelog.RestorerConfig{ClientOpts: []kgo.Opt{kgo.SeedBrokers(e.Brokers...)}, BatchSize: 10_000,
		Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return measure{}, err
	}
	defer r.Close()
	dir, err := os.MkdirTemp(e.TmpDir, "restore-")
	if err != nil {
		return measure{}, err
	}
	defer os.RemoveAll(dir)
	var store state.KeyValueStore
	if engine == state.Pebble {
		store, err = pebble.OpenKeyValueStore("bench", dir)
	} else {
		store, err = rocksdb.OpenKeyValueStore("bench", dir)
	}
	if err != nil {
		return measure{}, err
	}
	defer store.Close()
	rs, err := changelog.NewRestorable(store)
	if err != nil {
		return measure{}, err
	}
	t, err := startTimer(e)
	if err != nil {
		return measure{}, err
	}
	res, err := r.Restore(ctx, changelog.Job{Store: rs, Partition: changelog.TopicPartition{Topic: e.RestoreTopic, Partition: 0}})
	if err != nil {
		return measure{}, fmt.Errorf("restore: %w", err)
	}
	if err := store.Flush(); err != nil {
		return measure{}, fmt.Errorf("flush: %w", err)
	}
	m, err := t.stop(res.Restored)
	if err == nil && res.Restored != e.RestoreKeys {
		err = fmt.Errorf("restored %d records, want %d", res.Restored, e.RestoreKeys)
	}
	return m, err
}
