package runtime

import (
	"bufio"
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/kafki/kafki/internal/kafkatest"
	"github.com/kafki/kafki/serde"
	"github.com/kafki/kafki/state"
	"github.com/kafki/kafki/topology"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

// The crash tests run word count as a separate process (this test binary,
// re-executed with -test.run=^TestHelperProcess$ and envCrashHelper set)
// on an in-process kfake cluster, which survives the child's SIGKILL.
//
// Sizes: KAFKI_CRASH_RECORDS input records (default 30000) and
// KAFKI_CRASH_KILLS kills (default 5), e.g.
//
//	KAFKI_CRASH_RECORDS=500000 KAFKI_CRASH_KILLS=10 go test -run Crash ./runtime/
const envCrashHelper = "KAFKI_CRASH_HELPER"

// seqCounter counts each key in a logged store and forwards "<count>:<input
// value>": one clean run outputs, per key, 1:<first id>, 2:<second id>, ...
type seqCounter struct {
	ctx   topology.ProcessorContext[string, string]
	store state.KeyValueStore
}

func (p *seqCounter) Init(ctx topology.ProcessorContext[string, string]) error {
	p.ctx = ctx
	s, err := ctx.StateStore("counts")
	if err != nil {
		return err
	}
	p.store = s.(state.KeyValueStore)
	return nil
}

func (p *seqCounter) Process(rec topology.Record[string, string]) error {
	old, err := p.store.Get([]byte(rec.Key))
	if err != nil {
		return err
	}
	n := 0
	if old != nil {
		if n, err = strconv.Atoi(string(old)); err != nil {
			return err
		}
	}
	n++
	if err := p.store.Put([]byte(rec.Key), []byte(strconv.Itoa(n))); err != nil {
		return err
	}
	rec.Value = strconv.Itoa(n) + ":" + rec.Value
	return p.ctx.Forward(rec)
}

func (p *seqCounter) Close() error { return nil }

func seqCountTopology(in, out string, engine state.Engine) (*topology.Topology, error) {
	b := topology.NewBuilder()
	topology.AddSource(b, "source", serde.String(), serde.String(), in)
	topology.AddProcessor(b, "count", func() topology.Processor[string, string, string, string] { return &seqCounter{} }, "source")
	b.AddStateStore(state.Spec{Name: "counts", Kind: state.KindKeyValue, Engine: engine, Logging: true}, "count")
	topology.AddSink(b, "sink", out, serde.String(), serde.String(), "count")
	return b.Build()
}

// TestHelperProcess is not a test: it is the application process of the
// crash tests, and returns at once unless envCrashHelper is set.
func TestHelperProcess(t *testing.T) {
	if os.Getenv(envCrashHelper) == "" {
		return
	}
	os.Exit(runCrashChild())
}

func runCrashChild() int {
	get := func(k string) string { return os.Getenv("KAFKI_CRASH_" + k) }
	topo, err := seqCountTopology(get("IN"), get("OUT"), state.RocksDB)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	g := AtLeastOnce
	if get("GUARANTEE") == ExactlyOnceV2.String() {
		g = ExactlyOnceV2
	}
	app, err := New(topo, get("APP"),
		SeedBrokers(strings.Split(get("BROKERS"), ",")...),
		StateDir(get("STATE")),
		ProcessID(get("PID")),
		Guarantee(g),
		CommitInterval(100*time.Millisecond),
		SessionTimeout(6*time.Second),
		RebalanceTimeout(10*time.Second),
		Logger(testLogger()),
	)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := app.Start(ctx); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	for app.State() != Running {
		select {
		case <-app.Done():
			fmt.Fprintln(os.Stderr, "stopped before running:", app.Err())
			return 1
		case <-time.After(20 * time.Millisecond):
		}
	}
	fmt.Println("running")
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM)
	select {
	case <-sig:
	case <-app.Done():
	}
	if err := app.Close(context.Background()); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

type crashChild struct {
	cmd     *exec.Cmd
	running chan struct{}
}

func startCrashChild(t *testing.T, env []string) *crashChild {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcess$")
	cmd.Env = append(append(os.Environ(), envCrashHelper+"=1"), env...)
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ch := &crashChild{cmd: cmd, running: make(chan struct{})}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if strings.TrimSpace(sc.Text()) == "running" {
				close(ch.running)
			}
		}
	}()
	return ch
}

func envInt(name string, def int) int {
	if n, err := strconv.Atoi(os.Getenv(name)); err == nil && n > 0 {
		return n
	}
	return def
}

// crashRun runs word count over paced input, kills the application with
// SIGKILL at random moments at least kills times and restarts it on the
// same state directory each time, then returns, per key, the values of
// the output as a read_committed consumer sees them, in order, and the
// ids of the input records of each key, in order.
func crashRun(t *testing.T, g ProcessingGuarantee) (out map[string][]string, ids map[string][]string) {
	// Compaction stays at kfake's default backoff (one hour): kfake also
	// compacts records of transactions that are still open, so a record of
	// a killed instance's transaction can supersede the committed record of
	// its key and, once the transaction is aborted, leave the key without
	// any record. Kafka's cleaner stops at the last stable offset.
	c := kafkatest.New(t, 1, kfake.BrokerConfigs(map[string]string{"log.cleaner.backoff.ms": "3600000"}))
	in, outTopic := c.Topic("crash-in"), c.Topic("crash-out")
	c.CreateTopic(in, 4, nil)
	c.CreateTopic(outTopic, 4, nil)
	appID := c.Topic("crash-" + g.String())
	n := envInt("KAFKI_CRASH_RECORDS", 30000)
	kills := envInt("KAFKI_CRASH_KILLS", 5)
	stateDir := t.TempDir()
	env := []string{
		"KAFKI_CRASH_BROKERS=" + strings.Join(c.Brokers, ","),
		"KAFKI_CRASH_IN=" + in, "KAFKI_CRASH_OUT=" + outTopic, "KAFKI_CRASH_APP=" + appID,
		"KAFKI_CRASH_STATE=" + stateDir, "KAFKI_CRASH_PID=crash", "KAFKI_CRASH_GUARANTEE=" + g.String(),
	}

	// The input arrives over about as long as the kills take (each restart
	// waits for the killed member's 6s session timeout), so that every
	// instance is killed while it processes.
	ids = map[string][]string{}
	const keys = 500
	for i := 0; i < n; i++ {
		w := fmt.Sprintf("w%03d", i%keys)
		ids[w] = append(ids[w], strconv.Itoa(i))
	}
	span := time.Duration(kills) * 7 * time.Second
	const batch = 200
	pause := span / time.Duration((n+batch-1)/batch)
	prod := c.Client()
	var wg sync.WaitGroup
	produced := make(chan struct{})
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer close(produced)
		for from := 0; from < n; from += batch {
			var rs []*kgo.Record
			for i := from; i < min(from+batch, n); i++ {
				w := fmt.Sprintf("w%03d", i%keys)
				rs = append(rs, &kgo.Record{Topic: in, Key: []byte(w), Value: []byte(strconv.Itoa(i))})
			}
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			err := prod.ProduceSync(ctx, rs...).FirstErr()
			cancel()
			if err != nil {
				t.Errorf("produce: %v", err)
				return
			}
			time.Sleep(pause)
		}
	}()
	defer wg.Wait()

	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 7))
	for k := 0; k < kills; k++ {
		ch := startCrashChild(t, env)
		select {
		case <-ch.running:
		case <-time.After(60 * time.Second):
			t.Fatalf("instance %d did not start running", k)
		}
		time.Sleep(time.Duration(300+rng.IntN(2500)) * time.Millisecond)
		if err := ch.cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		ch.cmd.Wait()
		t.Logf("kill %d done", k+1)
	}
	last := startCrashChild(t, env)
	select {
	case <-last.running:
	case <-time.After(60 * time.Second):
		t.Fatal("last instance did not start running")
	}
	<-produced

	// Read the output until every key has all its records (or a wrong
	// value shows up, under exactly-once).
	out = map[string][]string{}
	cl := c.Client(kgo.ConsumeTopics(outTopic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	complete := func() bool {
		for k, want := range ids {
			if len(out[k]) < len(want) {
				return false
			}
		}
		return true
	}
	deadline := time.Now().Add(120 * time.Second)
	for !complete() && time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
		cl.PollFetches(ctx).EachRecord(func(r *kgo.Record) { out[string(r.Key)] = append(out[string(r.Key)], string(r.Value)) })
		cancel()
	}
	// A little longer, for duplicates that would follow.
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	cl.PollFetches(ctx).EachRecord(func(r *kgo.Record) { out[string(r.Key)] = append(out[string(r.Key)], string(r.Value)) })
	cancel()

	if err := last.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := last.cmd.Wait(); err != nil {
		t.Errorf("last instance exit: %v", err)
	}
	return out, ids
}

// Under exactly-once, SIGKILLs at random moments change nothing: the
// committed output is exactly that of one clean run: per key, counts 1..n
// in input order, no duplicate, no loss.
func TestCrashExactlyOnce(t *testing.T) {
	out, ids := crashRun(t, ExactlyOnceV2)
	total, bad := 0, 0
	for k, want := range ids {
		got := out[k]
		total += len(got)
		for i := 0; i < max(len(got), len(want)); i++ {
			exp, g := "<none>", "<none>"
			if i < len(want) {
				exp = fmt.Sprintf("%d:%s", i+1, want[i])
			}
			if i < len(got) {
				g = got[i]
			}
			if exp != g {
				if bad < 10 {
					t.Errorf("key %s, output %d: got %s, want %s", k, i, g, exp)
				}
				bad++
			}
		}
	}
	if bad > 0 {
		t.Fatalf("%d wrong output records of %d", bad, total)
	}
	t.Logf("exactly once: %d output records, exactly those of a clean run", total)
}

// Under at-least-once, SIGKILLs lose nothing: every input record shows up
// in the output and final counts are at least the true counts; records
// processed again after a kill show up twice (and count twice).
func TestCrashAtLeastOnce(t *testing.T) {
	out, ids := crashRun(t, AtLeastOnce)
	seen := map[string]int{}
	lost, dups, total := 0, 0, 0
	for k, want := range ids {
		for _, v := range out[k] {
			_, id, _ := strings.Cut(v, ":")
			seen[id]++
		}
		total += len(out[k])
		last := 0
		if got := out[k]; len(got) > 0 {
			last, _ = strconv.Atoi(strings.SplitN(got[len(got)-1], ":", 2)[0])
		}
		if last < len(want) {
			t.Errorf("key %s: final count %d, want at least %d", k, last, len(want))
		}
		for _, id := range want {
			switch seen[id] {
			case 0:
				if lost < 10 {
					t.Errorf("input record %s (key %s) lost", id, k)
				}
				lost++
			default:
				dups += seen[id] - 1
			}
		}
	}
	if lost > 0 {
		t.Fatalf("%d input records lost", lost)
	}
	t.Logf("at least once: %d output records, none lost, %d duplicates", total, dups)
}
