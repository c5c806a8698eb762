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
	"github.com/kafki/kafki/stream"
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
	b.AddStateStore(state.Spec{Name: "counts", Kind: state.KindKeyValue, Engine: engine}, "count")
	topology.AddSink(b, "sink", out, serde.String(), serde.String(), "count")
	return b.Build()
}

// crashWindow is the window size of the crash tests' windowed count; input
// record i has event time crashEpoch + 5ms*i.
const (
	crashWindow = 10 * time.Second
	crashEpoch  = int64(1_700_000_000_000)
)

// crashTopology is the application of the crash tests, written with the
// DSL: from one input, a word count whose values carry the input id
// ("<count>:<id>", to out) and a tumbling-window count (to windowed). Both
// stores are RocksDB, logged and uncached, so that every input record
// emits one update to each output and a clean run's output is known.
func crashTopology(in, out, windowed string) (*topology.Topology, error) {
	b := stream.NewBuilder()
	s := stream.Stream(b, in, stream.ConsumedWith(serde.String(), serde.String()))
	stream.Aggregate(stream.GroupByKey(s), func() string { return "0:" },
		func(_ string, v string, agg string) string {
			n, _ := strconv.Atoi(agg[:strings.IndexByte(agg, ':')])
			return strconv.Itoa(n+1) + ":" + v
		}, stream.MaterializedAs[string, string]("counts").WithCachingDisabled()).
		ToStream().To(out)
	stream.CountWindowed(stream.WindowedBy(stream.GroupByKey(s), stream.TumblingWindows(crashWindow, time.Hour)), stream.MaterializedAs[string, int64]("wcounts").WithCachingDisabled()).
		ToStream().To(windowed)
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
	topo, err := crashTopology(get("IN"), get("OUT"), get("WINDOWED"))
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

// crashResult is what a crash run read and expects: per key of word count
// and per "<key>@<window start>" of the windowed count, the output values
// a read_committed consumer saw, in order, and those of a clean run.
type crashResult struct {
	counts, wantCounts     map[string][]string
	windowed, wantWindowed map[string][]string
}

// crashRun runs crashTopology over paced input, kills the application with
// SIGKILL at random moments at least kills times and restarts it on the
// same state directory each time, then reads both outputs.
func crashRun(t *testing.T, g ProcessingGuarantee) crashResult {
	// Compaction stays at kfake's default backoff (one hour): kfake also
	// compacts records of transactions that are still open, so a record of
	// a killed instance's transaction can supersede the committed record of
	// its key and, once the transaction is aborted, leave the key without
	// any record. Kafka's cleaner stops at the last stable offset.
	c := kafkatest.New(t, 1, kfake.BrokerConfigs(map[string]string{"log.cleaner.backoff.ms": "3600000"}))
	in, outTopic, winTopic := c.Topic("crash-in"), c.Topic("crash-out"), c.Topic("crash-windowed")
	c.CreateTopic(in, 4, nil)
	c.CreateTopic(outTopic, 4, nil)
	c.CreateTopic(winTopic, 4, nil)
	appID := c.Topic("crash-" + g.String())
	n := envInt("KAFKI_CRASH_RECORDS", 30000)
	kills := envInt("KAFKI_CRASH_KILLS", 5)
	stateDir := t.TempDir()
	env := []string{
		"KAFKI_CRASH_BROKERS=" + strings.Join(c.Brokers, ","),
		"KAFKI_CRASH_IN=" + in, "KAFKI_CRASH_OUT=" + outTopic, "KAFKI_CRASH_WINDOWED=" + winTopic, "KAFKI_CRASH_APP=" + appID,
		"KAFKI_CRASH_STATE=" + stateDir, "KAFKI_CRASH_PID=crash", "KAFKI_CRASH_GUARANTEE=" + g.String(),
	}

	// The input arrives over about as long as the kills take (each restart
	// waits for the killed member's 6s session timeout), so that every
	// instance is killed while it processes.
	res := crashResult{counts: map[string][]string{}, wantCounts: map[string][]string{},
		windowed: map[string][]string{}, wantWindowed: map[string][]string{}}
	const keys = 500
	for i := 0; i < n; i++ {
		w := fmt.Sprintf("w%03d", i%keys)
		res.wantCounts[w] = append(res.wantCounts[w], fmt.Sprintf("%d:%d", len(res.wantCounts[w])+1, i))
		ts := crashEpoch + 5*int64(i)
		win := fmt.Sprintf("%s@%d", w, ts-ts%crashWindow.Milliseconds())
		res.wantWindowed[win] = append(res.wantWindowed[win], strconv.Itoa(len(res.wantWindowed[win])+1))
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
				rs = append(rs, &kgo.Record{Topic: in, Key: []byte(w), Value: []byte(strconv.Itoa(i)),
					Timestamp: time.UnixMilli(crashEpoch + 5*int64(i))})
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
		// Kill only a member of a stable group, and start the next one
		// once the killed member has expired: the development broker can
		// leave a group preparing a rebalance for minutes when a member
		// dies while it waits for its join answer (README, limits of the
		// development broker). The test must not depend on that fault.
		waitGroupState(t, c, appID, "Stable")
		if err := ch.cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		ch.cmd.Wait()
		waitGroupState(t, c, appID, "Empty")
		t.Logf("kill %d done", k+1)
	}
	last := startCrashChild(t, env)
	select {
	case <-last.running:
	case <-time.After(60 * time.Second):
		t.Fatal("last instance did not start running")
	}
	<-produced

	// Read the outputs until every input record shows up, then a little
	// longer, for duplicates that would follow.
	cl := c.Client(kgo.ConsumeTopics(outTopic, winTopic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	wkeys := stream.WindowedSerde(serde.String(), crashWindow)
	poll := func(d time.Duration) {
		ctx, cancel := context.WithTimeout(context.Background(), d)
		defer cancel()
		cl.PollFetches(ctx).EachRecord(func(r *kgo.Record) {
			if r.Topic == outTopic {
				res.counts[string(r.Key)] = append(res.counts[string(r.Key)], string(r.Value))
				return
			}
			k, err := wkeys.Deserialize(r.Topic, nil, r.Key)
			if err != nil {
				t.Fatalf("windowed key %x: %v", r.Key, err)
			}
			v, err := serde.Int64().Deserialize(r.Topic, nil, r.Value)
			if err != nil {
				t.Fatalf("windowed count %x: %v", r.Value, err)
			}
			win := fmt.Sprintf("%s@%d", k.Key, k.Window.Start().UnixMilli())
			res.windowed[win] = append(res.windowed[win], strconv.FormatInt(v, 10))
		})
	}
	deadline := time.Now().Add(120 * time.Second)
	for !crashOutputsComplete(res) && time.Now().Before(deadline) {
		poll(500 * time.Millisecond)
	}
	poll(time.Second)

	if err := last.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := last.cmd.Wait(); err != nil {
		t.Errorf("last instance exit: %v", err)
	}
	return res
}

// waitGroupState waits until the consumer group is in state (as the
// broker describes it).
func waitGroupState(t *testing.T, c *kafkatest.Cluster, group, state string) {
	t.Helper()
	adm := c.Admin()
	var last string
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		described, err := adm.DescribeGroups(ctx, group)
		cancel()
		if err == nil {
			if g, ok := described[group]; ok && g.Err == nil {
				if last = g.State; last == state {
					return
				}
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("group %s still %q after 60s, want %q", group, last, state)
}

// crashOutputsComplete reports whether the outputs read so far cover every
// input record: each input id in the word count, and per key and window a
// count as high as a clean run's. Counting output records is not enough:
// under at-least-once the records processed again after a kill add outputs
// (and inflate counts), so a key can have as many outputs as a clean run
// while the last instance, slowed down by a loaded machine, has not yet
// processed the tail of its input; reading stopped there reported that
// tail as lost.
func crashOutputsComplete(res crashResult) bool {
	for k, want := range res.wantCounts {
		ids := make(map[string]bool, len(res.counts[k]))
		for _, v := range res.counts[k] {
			_, id, _ := strings.Cut(v, ":")
			ids[id] = true
		}
		for _, w := range want {
			if _, id, _ := strings.Cut(w, ":"); !ids[id] {
				return false
			}
		}
	}
	for k, want := range res.wantWindowed {
		got := res.windowed[k]
		if len(got) < len(want) {
			return false
		}
		if n, _ := strconv.Atoi(got[len(got)-1]); n < len(want) {
			return false
		}
	}
	return true
}

// Under exactly-once, SIGKILLs at random moments change nothing: the
// committed outputs are exactly those of one clean run: per key, counts
// 1..n in input order, with the right input ids, and per key and window,
// counts 1..n; no duplicate, no loss.
func TestCrashExactlyOnce(t *testing.T) {
	res := crashRun(t, ExactlyOnceV2)
	n := expectExactly(t, "word count", res.counts, res.wantCounts)
	m := expectExactly(t, "windowed count", res.windowed, res.wantWindowed)
	t.Logf("exactly once: %d word-count and %d windowed-count output records, exactly those of a clean run", n, m)
}

// expectExactly compares got with want, sequence by sequence, and returns
// how many records got has.
func expectExactly(t *testing.T, what string, got, want map[string][]string) int {
	t.Helper()
	total, bad := 0, 0
	for k := range got {
		if _, ok := want[k]; !ok {
			t.Errorf("%s: unexpected key %s: %v", what, k, got[k])
			bad++
		}
	}
	for k, w := range want {
		g := got[k]
		total += len(g)
		for i := 0; i < max(len(g), len(w)); i++ {
			exp, have := "<none>", "<none>"
			if i < len(w) {
				exp = w[i]
			}
			if i < len(g) {
				have = g[i]
			}
			if exp != have {
				if bad < 10 {
					t.Errorf("%s: key %s, output %d: got %s, want %s", what, k, i, have, exp)
				}
				bad++
			}
		}
	}
	if bad > 0 {
		t.Fatalf("%s: %d wrong output records of %d", what, bad, total)
	}
	return total
}

// Under at-least-once, SIGKILLs lose nothing: every input record shows up
// in the word-count output, and every final count (per key, per key and
// window) is at least the true count; records processed again after a
// kill show up twice (and count twice).
func TestCrashAtLeastOnce(t *testing.T) {
	res := crashRun(t, AtLeastOnce)
	seen := map[string]int{}
	for _, vs := range res.counts {
		for _, v := range vs {
			_, id, _ := strings.Cut(v, ":")
			seen[id]++
		}
	}
	lost, dups := 0, 0
	for k, want := range res.wantCounts {
		for _, w := range want {
			_, id, _ := strings.Cut(w, ":")
			if seen[id] == 0 {
				if lost < 10 {
					t.Errorf("input record %s (key %s) lost", id, k)
				}
				lost++
			} else {
				dups += seen[id] - 1
			}
		}
	}
	if lost > 0 {
		t.Fatalf("%d input records lost", lost)
	}
	lastCount := func(vs []string) int {
		if len(vs) == 0 {
			return 0
		}
		c, _, _ := strings.Cut(vs[len(vs)-1], ":")
		n, _ := strconv.Atoi(c)
		return n
	}
	for what, pair := range map[string][2]map[string][]string{
		"word count": {res.counts, res.wantCounts}, "windowed count": {res.windowed, res.wantWindowed}} {
		for k, want := range pair[1] {
			if got := lastCount(pair[0][k]); got < len(want) {
				t.Fatalf("%s: key %s: final count %d, want at least %d", what, k, got, len(want))
			}
		}
	}
	t.Logf("at least once: none lost, %d word-count duplicates", dups)
}

// The crash tests stop reading outputs only once every input record shows
// up: duplicates from records processed again after a kill do not stand
// in for records still to come.
func TestCrashOutputsCompleteByInputID(t *testing.T) {
	res := crashResult{
		wantCounts:   map[string][]string{"w0": {"1:0", "2:2"}, "w1": {"1:1"}},
		wantWindowed: map[string][]string{"w0@0": {"1", "2"}, "w1@0": {"1"}},
		// Record 0 was processed twice (a kill before its commit) and
		// record 2 not yet: w0 has as many outputs as a clean run.
		counts:   map[string][]string{"w0": {"1:0", "2:0"}, "w1": {"1:1"}},
		windowed: map[string][]string{"w0@0": {"1", "2"}, "w1@0": {"1"}},
	}
	if crashOutputsComplete(res) {
		t.Fatal("complete while input record 2 has no output")
	}
	res.counts["w0"] = append(res.counts["w0"], "3:2")
	if !crashOutputsComplete(res) {
		t.Fatal("not complete with every input record in the output")
	}
	res.windowed["w0@0"] = []string{"1", "1"} // processed again from an older state
	if crashOutputsComplete(res) {
		t.Fatal("complete while a window's count is below a clean run's")
	}
}
