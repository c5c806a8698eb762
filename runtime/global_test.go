package runtime

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/kafki/kafki/changelog"
	"github.com/kafki/kafki/internal/kafkatest"
	"github.com/kafki/kafki/serde"
	"github.com/kafki/kafki/state"
	"github.com/kafki/kafki/stream"
	"github.com/kafki/kafki/topology"
	"github.com/twmb/franz-go/pkg/kgo"
)

// ordersWithCustomers joins orders (key order id, value customer id) with
// the customers GlobalKTable (key customer id, value name) into
// "<customer id>:<name>", or "<customer id>:?" for an unknown customer.
func ordersWithCustomers(t testing.TB, orders, customers, out string) *topology.Topology {
	t.Helper()
	b := stream.NewBuilder()
	g := stream.GlobalTable(b, customers, stream.ConsumedWith(serde.String(), serde.String()),
		stream.MaterializedAs[string, string]("customers"))
	s := stream.Stream(b, orders, stream.ConsumedWith(serde.String(), serde.String()))
	stream.LeftJoinGlobal(s, g, func(_, cust string) string { return cust }, func(cust string, name *string) string {
		if name == nil {
			return cust + ":?"
		}
		return cust + ":" + *name
	}).To(out)
	topo, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	return topo
}

func produceKV(t testing.TB, cl *kgo.Client, topic string, kvs ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var rs []*kgo.Record
	for i := 0; i+1 < len(kvs); i += 2 {
		rs = append(rs, &kgo.Record{Topic: topic, Key: []byte(kvs[i]), Value: []byte(kvs[i+1])})
	}
	if err := cl.ProduceSync(ctx, rs...).FirstErr(); err != nil {
		t.Fatalf("produce: %v", err)
	}
}

// expectValues reads topic from the start until the latest value of every
// key in want is as wanted.
func expectValues(t testing.TB, c *kafkatest.Cluster, topic string, want map[string]string, timeout time.Duration) {
	t.Helper()
	cl := c.Client(kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	defer cl.Close()
	got := map[string]string{}
	deadline := time.Now().Add(timeout)
	for {
		ok := true
		for k, v := range want {
			ok = ok && got[k] == v
		}
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("values in %s after %v: got %v, want %v", topic, timeout, got, want)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
		fs := cl.PollFetches(ctx)
		cancel()
		fs.EachRecord(func(r *kgo.Record) { got[string(r.Key)] = string(r.Value) })
	}
}

// globalValue reads a key of a running app's global store.
func globalValue(a *App, store, key string) string {
	s, ok := a.globalStores[store].(state.KeyValueStore)
	if !ok {
		return ""
	}
	v, _ := s.Get([]byte(key))
	return string(v)
}

// A KStream-GlobalKTable join sees the table as bootstrapped at start, sees
// later updates of the table, and after a restart restores the global
// store from its checkpoint: only what was written while it was down.
func TestGlobalTableJoin(t *testing.T) {
	c := kafkatest.New(t, 1)
	orders, customers, out := c.Topic("orders"), c.Topic("customers"), c.Topic("enriched")
	c.CreateTopic(orders, 2, nil)
	c.CreateTopic(customers, 3, nil)
	c.CreateTopic(out, 2, nil)
	appID := c.Topic("global")
	topo := ordersWithCustomers(t, orders, customers, out)
	dir := t.TempDir()
	cl := c.Client()
	produceKV(t, cl, customers, "c1", "Alice", "c2", "Bob", "c3", "Carol", "gone", "x")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	// A tombstone deletes.
	if err := cl.ProduceSync(ctx, &kgo.Record{Topic: customers, Key: []byte("gone")}).FirstErr(); err != nil {
		t.Fatal(err)
	}

	a := startApp(t, topo, appID, testOpts(c, dir)...)
	if n := a.global.restored.Load(); n != 5 {
		t.Fatalf("bootstrap restored %d records, want 5", n)
	}
	produceKV(t, cl, orders, "o1", "c1", "o2", "c2", "o3", "gone", "o4", "nobody")
	expectValues(t, c, out, map[string]string{"o1": "c1:Alice", "o2": "c2:Bob", "o3": "gone:?", "o4": "nobody:?"}, 60*time.Second)

	// An update of the table is seen by later orders.
	produceKV(t, cl, customers, "c1", "Alicia", "c4", "Dan")
	waitFor(t, "the global store to apply the update", 30*time.Second, func() bool {
		return globalValue(a, "customers", "c1") == "Alicia" && globalValue(a, "customers", "c4") == "Dan"
	})
	produceKV(t, cl, orders, "o5", "c1", "o6", "c4")
	expectValues(t, c, out, map[string]string{"o5": "c1:Alicia", "o6": "c4:Dan"}, 60*time.Second)

	cctx, ccancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer ccancel()
	if err := a.Close(cctx); err != nil {
		t.Fatalf("close: %v", err)
	}
	cp, err := changelog.ReadCheckpoint(filepath.Join(dir, appID, globalTaskDir, changelog.CheckpointFileName))
	if err != nil {
		t.Fatalf("global checkpoint: %v", err)
	}
	var total int64
	for _, off := range cp {
		total += off
	}
	if len(cp) != 3 || total != 7 {
		t.Fatalf("global checkpoint %v: want 3 partitions summing to 7 records", cp)
	}

	// While the instance is down, one customer changes: the restart
	// restores that record only.
	produceKV(t, cl, customers, "c2", "Bobby")
	a2 := startApp(t, topo, appID, testOpts(c, dir)...)
	if n := a2.global.restored.Load(); n != 1 {
		t.Fatalf("restart restored %d records, want 1 (from the checkpoint)", n)
	}
	produceKV(t, cl, orders, "o7", "c2", "o8", "c3", "o9", "c1")
	expectValues(t, c, out, map[string]string{"o7": "c2:Bobby", "o8": "c3:Carol", "o9": "c1:Alicia"}, 60*time.Second)
	if _, err := os.Stat(filepath.Join(dir, appID, globalTaskDir, "customers")); err != nil {
		t.Fatalf("global store directory: %v", err)
	}
}

// A global store whose checkpoint fell below the log start of its topic is
// wiped and read again from the beginning: records deleted from the topic
// do not survive in the store.
func TestGlobalCheckpointOutOfRangeResetsStore(t *testing.T) {
	c := kafkatest.New(t, 1)
	orders, customers, out := c.Topic("orders"), c.Topic("customers"), c.Topic("enriched")
	c.CreateTopic(orders, 1, nil)
	c.CreateTopic(customers, 2, nil)
	c.CreateTopic(out, 1, nil)
	appID := c.Topic("global-reset")
	topo := ordersWithCustomers(t, orders, customers, out)
	dir := t.TempDir()
	cl := c.Client()
	produceKV(t, cl, customers, "c1", "Alice", "c2", "Bob")

	a := startApp(t, topo, appID, testOpts(c, dir)...)
	if globalValue(a, "customers", "c1") != "Alice" {
		t.Fatal("c1 not bootstrapped")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := a.Close(ctx); err != nil {
		t.Fatalf("close: %v", err)
	}
	produceKV(t, cl, customers, "c3", "Carol", "c4", "Dan")
	deleteAll(t, c, customers)
	produceKV(t, cl, customers, "c5", "Eve")

	a2 := startApp(t, topo, appID, testOpts(c, dir)...)
	if n := a2.Metrics().StoreResets; n == 0 {
		t.Fatal("no global store reset")
	}
	for k, want := range map[string]string{"c1": "", "c2": "", "c3": "", "c4": "", "c5": "Eve"} {
		if got := globalValue(a2, "customers", k); got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
}

// storeRestores sums what a restore listener hears, by store.
type storeRestores struct {
	mu      sync.Mutex
	starts  map[string]int
	batched map[string]int64
	ended   map[string]int64
}

func (l *storeRestores) OnRestoreStart(store string, _ changelog.TopicPartition, _, _ int64) {
	l.mu.Lock()
	l.starts[store]++
	l.mu.Unlock()
}

func (l *storeRestores) OnBatchRestored(store string, _ changelog.TopicPartition, _ int64, n int) {
	l.mu.Lock()
	l.batched[store] += int64(n)
	l.mu.Unlock()
}

func (l *storeRestores) OnRestoreEnd(store string, _ changelog.TopicPartition, total int64) {
	l.mu.Lock()
	l.ended[store] += total
	l.mu.Unlock()
}

// The global thread tells the restore listener about the global stores it
// bootstraps, as Kafka Streams' global state restore listener; and the
// record-cache budget is split evenly over the stream threads.
func TestGlobalRestoreListenerAndThreadCaches(t *testing.T) {
	c := kafkatest.New(t, 1)
	orders, customers, out := c.Topic("orders"), c.Topic("customers"), c.Topic("enriched")
	c.CreateTopic(orders, 2, nil)
	c.CreateTopic(customers, 3, nil)
	c.CreateTopic(out, 2, nil)
	produceKV(t, c.Client(), customers, "c1", "Alice", "c2", "Bob", "c3", "Carol", "c4", "Dan")
	l := &storeRestores{starts: map[string]int{}, batched: map[string]int64{}, ended: map[string]int64{}}
	a := startApp(t, ordersWithCustomers(t, orders, customers, out), c.Topic("global-listener"),
		testOpts(c, t.TempDir(), OnRestore(l), NumStreamThreads(2), CacheMaxBytes(1<<20))...)
	l.mu.Lock()
	if l.starts["customers"] == 0 || l.batched["customers"] != 4 || l.ended["customers"] != 4 {
		t.Errorf("global store restorations heard: %d starts, %d records in batches, %d at the ends; want 4 records",
			l.starts["customers"], l.batched["customers"], l.ended["customers"])
	}
	l.mu.Unlock()
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.threads) != 2 {
		t.Fatalf("%d threads", len(a.threads))
	}
	budgets := func(want int64) {
		t.Helper()
		for _, th := range a.threads {
			if got := th.cache.MaxBytes(); got != want {
				t.Errorf("%d threads: thread %d cache budget %d, want %d", len(a.threads), th.id, got, want)
			}
		}
	}
	budgets(1 << 19)
	// A thread gone (as when a failed thread is not replaced): the others
	// share its budget, and give it back when it returns.
	var gone *streamThread
	for _, th := range a.threads {
		gone = th
		break
	}
	delete(a.threads, gone.id)
	a.resizeCachesLocked()
	budgets(1 << 20)
	a.threads[gone.id] = gone
	a.resizeCachesLocked()
	budgets(1 << 19)
}
