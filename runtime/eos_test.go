package runtime

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/kafki/kafki/changelog"
	"github.com/kafki/kafki/internal/kafkatest"
	"github.com/kafki/kafki/state"
	"github.com/kafki/kafki/topology"
	"github.com/twmb/franz-go/pkg/kgo"
)

func TestEOSCommitIntervalDefault(t *testing.T) {
	topo, err := seqCountTopology("in", "out", state.InMemory)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		opts []Opt
		want time.Duration
	}{
		{nil, 30 * time.Second},
		{[]Opt{Guarantee(ExactlyOnceV2)}, 100 * time.Millisecond},
		{[]Opt{Guarantee(ExactlyOnceV2), CommitInterval(time.Second)}, time.Second},
		{[]Opt{CommitInterval(time.Second), Guarantee(ExactlyOnceV2)}, time.Second},
	} {
		a, err := New(topo, "app", tc.opts...)
		if err != nil {
			t.Fatal(err)
		}
		if got := a.cfg.commitInterval; got != tc.want {
			t.Errorf("%s, %d options: commit interval %v, want %v", a.cfg.guarantee, len(tc.opts), got, tc.want)
		}
	}
	if g := ExactlyOnceV2.String(); g != "exactly_once_v2" {
		t.Errorf("ExactlyOnceV2 is %q", g)
	}
}

// committedOutput reads topic with read_committed and appends what it
// finds to out, per key, until cond holds or timeout passes.
type committedOutput struct {
	mu  sync.Mutex
	cl  *kgo.Client
	out map[string][]string
}

func newCommittedOutput(c *kafkatest.Cluster, topic string) *committedOutput {
	return &committedOutput{out: map[string][]string{}, cl: c.Client(kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchIsolationLevel(kgo.ReadCommitted()))}
}

func (o *committedOutput) poll(d time.Duration) {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	defer cancel()
	fs := o.cl.PollFetches(ctx)
	o.mu.Lock()
	defer o.mu.Unlock()
	fs.EachRecord(func(r *kgo.Record) { o.out[string(r.Key)] = append(o.out[string(r.Key)], string(r.Value)) })
}

func (o *committedOutput) total() int {
	n := 0
	for _, v := range o.out {
		n += len(v)
	}
	return n
}

// waitTotal polls until the output has n records and fails at the
// deadline.
func (o *committedOutput) waitTotal(t *testing.T, n int, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for o.total() < n {
		if time.Now().After(deadline) {
			t.Fatalf("read_committed output has %d records after %v, want %d", o.total(), timeout, n)
		}
		o.poll(200 * time.Millisecond)
	}
}

// checkSequences checks that every key's output is 1:<id>, 2:<id>, ... in
// input order, as one clean run of seqCounter produces.
func (o *committedOutput) checkSequences(t *testing.T, ids map[string][]string) {
	t.Helper()
	for k, want := range ids {
		got := o.out[k]
		if len(got) != len(want) {
			t.Fatalf("key %s: %d outputs, want %d: %v", k, len(got), len(want), got)
		}
		for i := range want {
			if exp := fmt.Sprintf("%d:%s", i+1, want[i]); got[i] != exp {
				t.Fatalf("key %s, output %d: got %s, want %s", k, i, got[i], exp)
			}
		}
	}
}

func produceSeq(t *testing.T, cl *kgo.Client, topic string, ids map[string][]string, from, to, keys int) {
	t.Helper()
	if err := produceSeqErr(cl, topic, ids, from, to, keys); err != nil {
		t.Fatal(err)
	}
}

// produceSeqErr produces records from..to-1 (value i, key k<i%keys>) and
// records their ids per key in ids.
func produceSeqErr(cl *kgo.Client, topic string, ids map[string][]string, from, to, keys int) error {
	var rs []*kgo.Record
	for i := from; i < to; i++ {
		w := fmt.Sprintf("k%02d", i%keys)
		ids[w] = append(ids[w], strconv.Itoa(i))
		rs = append(rs, &kgo.Record{Topic: topic, Key: []byte(w), Value: []byte(strconv.Itoa(i))})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := cl.ProduceSync(ctx, rs...).FirstErr(); err != nil {
		return fmt.Errorf("produce: %w", err)
	}
	return nil
}

// Under exactly-once a task's checkpoint is deleted once it processes, so
// that a crash leaves none; a clean close writes one, and the next start
// restores only the changelog's tail from it, on the store it kept.
func TestEOSCheckpointOnlyAfterCleanClose(t *testing.T) {
	c := kafkatest.New(t, 1, kafkatest.NoCompaction()) // aborts may happen: see NoCompaction
	in, out := c.Topic("in"), c.Topic("out")
	c.CreateTopic(in, 1, nil)
	c.CreateTopic(out, 1, nil)
	appID := c.Topic("eoscp")
	dir := t.TempDir()
	topo, err := seqCountTopology(in, out, state.RocksDB)
	if err != nil {
		t.Fatal(err)
	}
	opts := func() []Opt {
		return append(testOpts(c, dir), Guarantee(ExactlyOnceV2), ProcessID("cp"), CommitInterval(50*time.Millisecond))
	}
	cpPath := filepath.Join(dir, appID, "0_0", changelog.CheckpointFileName)
	prod := c.Client()
	ids := map[string][]string{}
	o := newCommittedOutput(c, out)

	app := startApp(t, topo, appID, opts()...)
	produceSeq(t, prod, in, ids, 0, 200, 10)
	o.waitTotal(t, 200, 30*time.Second)
	if _, err := os.Stat(cpPath); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("checkpoint of a processing task under exactly-once: stat = %v, want none", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := app.Close(ctx); err != nil {
		t.Fatal(err)
	}
	cp, err := changelog.ReadCheckpoint(cpPath)
	if err != nil {
		t.Fatal(err)
	}
	tp := changelog.TopicPartition{Topic: changelog.ChangelogTopic(appID, "counts"), Partition: 0}
	if cp[tp] < 200 {
		t.Fatalf("checkpoint after a clean close: %v, want %s at 200 or more", cp, tp)
	}

	app = startApp(t, topo, appID, opts()...)
	produceSeq(t, prod, in, ids, 200, 300, 10)
	o.waitTotal(t, 300, 30*time.Second)
	o.checkSequences(t, ids)
	var restored []RestoreProgress
	for _, r := range app.Metrics().Restores {
		if r.Topic == tp.Topic {
			restored = append(restored, r)
		}
	}
	if len(restored) != 1 || restored[0].Start != cp[tp] || restored[0].Restored != 0 {
		t.Fatalf("restoration after a clean close: %+v, want one from the checkpoint %d with no record", restored, cp[tp])
	}
}

// A fenced producer is "task migrated", as in Kafka Streams: once another
// producer initialises the transactional id of an instance's stream
// thread, the thread's transaction cannot commit; the thread closes its
// tasks dirty and rejoins with a new producer (which fences the other one
// in turn) instead of stopping. The uncaught-error handler is not called,
// what the fenced transaction held never becomes visible, and the output
// is exactly that of one clean run.
func TestEOSFencedProducerRejoins(t *testing.T) {
	c := kafkatest.New(t, 1, kafkatest.NoCompaction()) // aborts may happen: see NoCompaction
	in, out := c.Topic("in"), c.Topic("out")
	c.CreateTopic(in, 2, nil)
	c.CreateTopic(out, 2, nil)
	appID := c.Topic("zombie")
	topo, err := seqCountTopology(in, out, state.InMemory)
	if err != nil {
		t.Fatal(err)
	}
	uncaught := make(chan error, 4)
	var mu sync.Mutex
	var msgs []string
	// Records the fenced producer still had in flight fail with
	// INVALID_PRODUCER_EPOCH: task migration, not the handler's to decide.
	var asked []error
	app := startApp(t, topo, appID, append(testOpts(c, t.TempDir()), Guarantee(ExactlyOnceV2), ProcessID("z"),
		Logger(slog.New(captureHandler{&mu, &msgs})),
		OnProductionError(func(_ HandlerContext, _ *topology.RawRecord, err error) HandlerResponse {
			mu.Lock()
			asked = append(asked, err)
			mu.Unlock()
			return Continue
		}),
		OnUncaughtError(func(err error) UncaughtErrorResponse { uncaught <- err; return ShutdownClient }))...)
	prod := c.Client()
	ids := map[string][]string{}
	o := newCommittedOutput(c, out)
	produceSeq(t, prod, in, ids, 0, 100, 10)
	o.waitTotal(t, 100, 30*time.Second)

	// A newer producer with the thread's transactional id.
	fencer := c.Client(kgo.TransactionalID(app.transactionalID(0)))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if _, _, err := fencer.ProducerID(ctx); err != nil {
		t.Fatalf("init the fencing producer: %v", err)
	}
	produceSeq(t, prod, in, ids, 100, 200, 10)
	o.waitTotal(t, 200, 60*time.Second)
	o.poll(500 * time.Millisecond)
	o.checkSequences(t, ids)
	select {
	case err := <-uncaught:
		t.Fatalf("uncaught-error handler called: %v", err)
	case <-app.Done():
		t.Fatalf("instance stopped: %v", app.Err())
	default:
	}
	mu.Lock()
	migrated := slices.Contains(msgs, "task migrated: closing the thread's tasks dirty and rejoining the group")
	mu.Unlock()
	if !migrated {
		t.Fatal("the fence was not noticed (no task migration logged)")
	}
	mu.Lock()
	defer mu.Unlock()
	if len(asked) > 0 {
		t.Fatalf("production handler asked about %v", asked)
	}
}

// Tasks moving between live instances under exactly-once (a second
// instance joins, then the first leaves, while input flows) commit on
// revocation and restore committed state: the output is exactly that of
// one clean run.
func TestEOSScaleOutAndIn(t *testing.T) {
	c := kafkatest.New(t, 1, kafkatest.NoCompaction()) // aborts may happen: see NoCompaction
	in, out := c.Topic("in"), c.Topic("out")
	c.CreateTopic(in, 4, nil)
	c.CreateTopic(out, 4, nil)
	appID := c.Topic("eosscale")
	topo, err := seqCountTopology(in, out, state.RocksDB)
	if err != nil {
		t.Fatal(err)
	}
	opts := func(pid string) []Opt {
		return append(testOpts(c, t.TempDir()), Guarantee(ExactlyOnceV2), ProcessID(pid))
	}
	prod := c.Client()
	ids := map[string][]string{}
	const n, batch = 6000, 200
	done := make(chan struct{})
	go func() {
		defer close(done)
		for from := 0; from < n; from += batch {
			if err := produceSeqErr(prod, in, ids, from, from+batch, 40); err != nil {
				t.Error(err)
				return
			}
			time.Sleep(150 * time.Millisecond)
		}
	}()
	first := startApp(t, topo, appID, opts("first")...)
	o := newCommittedOutput(c, out)
	o.waitTotal(t, 600, 30*time.Second)
	second := startApp(t, topo, appID, opts("second")...)
	hasTasks := func(a *App) bool {
		for _, th := range a.LocalThreads() {
			if len(th.Active) > 0 {
				return true
			}
		}
		return false
	}
	waitFor(t, "tasks on both instances", 30*time.Second, func() bool { return hasTasks(first) && hasTasks(second) })
	o.poll(time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := first.Close(ctx); err != nil {
		t.Fatalf("close the first instance: %v", err)
	}
	<-done
	o.waitTotal(t, n, 60*time.Second)
	o.poll(500 * time.Millisecond)
	o.checkSequences(t, ids)
	if err := second.Err(); err != nil {
		t.Fatalf("second instance: %v", err)
	}
}

// After a crash under exactly-once the task directory has no checkpoint,
// and a persistent store may hold writes of a transaction that never
// committed: the store is wiped and rebuilt from the committed changelog
// rather than reused. (At-least-once would reuse it and count the junk.)
func TestEOSCrashLeftoversWiped(t *testing.T) {
	c := kafkatest.New(t, 1, kafkatest.NoCompaction()) // aborts may happen: see NoCompaction
	in, out := c.Topic("in"), c.Topic("out")
	c.CreateTopic(in, 1, nil)
	c.CreateTopic(out, 1, nil)
	appID := c.Topic("eoswipe")
	dir := t.TempDir()
	topo, err := seqCountTopology(in, out, state.RocksDB)
	if err != nil {
		t.Fatal(err)
	}
	opts := append(testOpts(c, dir), Guarantee(ExactlyOnceV2), ProcessID("w"))
	prod := c.Client()
	ids := map[string][]string{}
	o := newCommittedOutput(c, out)
	app := startApp(t, topo, appID, opts...)
	produceSeq(t, prod, in, ids, 0, 50, 5)
	o.waitTotal(t, 50, 30*time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := app.Close(ctx); err != nil {
		t.Fatal(err)
	}

	// What a process killed mid-transaction leaves: uncommitted writes in
	// the store (an existing key and a new one) and no checkpoint.
	sd, err := changelog.OpenStateDir(dir, appID)
	if err != nil {
		t.Fatal(err)
	}
	td, err := sd.LockTask("0_0")
	if err != nil {
		t.Fatal(err)
	}
	spec := state.Spec{Name: "counts", Kind: state.KindKeyValue, Engine: state.RocksDB}
	st, trusted, err := changelog.OpenStore(td, spec, changelog.StoreOptions{})
	if err != nil || !trusted {
		t.Fatalf("open the store of the closed task: trusted %v, %v", trusted, err)
	}
	kv := st.(state.KeyValueStore)
	for k, v := range map[string]string{"k00": "1000", "uncommitted": "41"} {
		if err := kv.Put([]byte(k), []byte(v)); err != nil {
			t.Fatal(err)
		}
	}
	if err := errors.Join(kv.Flush(), kv.Close(), td.RemoveCheckpoint(), td.Close()); err != nil {
		t.Fatal(err)
	}

	startApp(t, topo, appID, opts...)
	produceSeq(t, prod, in, ids, 50, 60, 5)
	rec := &kgo.Record{Topic: in, Key: []byte("uncommitted"), Value: []byte("x")}
	if err := prod.ProduceSync(ctx, rec).FirstErr(); err != nil {
		t.Fatal(err)
	}
	ids["uncommitted"] = []string{"x"}
	o.waitTotal(t, 61, 30*time.Second)
	o.poll(300 * time.Millisecond)
	o.checkSequences(t, ids)
}
