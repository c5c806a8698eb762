package runtime

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/kafki/kafki/internal/kafkatest"
	"github.com/kafki/kafki/serde"
	"github.com/kafki/kafki/state"
	"github.com/kafki/kafki/topology"
	"github.com/twmb/franz-go/pkg/kgo"
)

// envChild makes the test binary run as an application instance (see
// TestMain) instead of running tests: the SIGKILL test starts instances as
// separate processes that way.
const envChild = "KAFKI_RUNTIME_TEST_CHILD"

func TestMain(m *testing.M) {
	if os.Getenv(envChild) != "" {
		os.Exit(runChild())
	}
	os.Exit(m.Run())
}

// tagger counts each word in a logged store and forwards the input value
// (a unique id): the output shows which input records were processed.
type tagger struct {
	ctx   topology.ProcessorContext[string, string]
	store state.KeyValueStore
}

func (p *tagger) Init(ctx topology.ProcessorContext[string, string]) error {
	p.ctx = ctx
	s, err := ctx.StateStore("seen")
	if err != nil {
		return err
	}
	p.store = s.(state.KeyValueStore)
	return nil
}

func (p *tagger) Process(rec topology.Record[string, string]) error {
	old, err := p.store.Get([]byte(rec.Key))
	if err != nil {
		return err
	}
	n, _ := strconv.Atoi(string(old))
	if err := p.store.Put([]byte(rec.Key), []byte(strconv.Itoa(n+1))); err != nil {
		return err
	}
	return p.ctx.Forward(rec)
}

func (p *tagger) Close() error { return nil }

func taggerTopology(in, out string) (*topology.Topology, error) {
	b := topology.NewBuilder()
	topology.AddSource(b, "source", serde.String(), serde.String(), in)
	topology.AddProcessor(b, "tag", func() topology.Processor[string, string, string, string] { return &tagger{} }, "source")
	b.AddStateStore(state.Spec{Name: "seen", Kind: state.KindKeyValue, Engine: state.RocksDB}, "tag")
	topology.AddSink(b, "sink", out, serde.String(), serde.String(), "tag")
	return b.Build()
}

// runChild runs one instance until SIGTERM (clean close) or SIGKILL.
func runChild() int {
	get := func(k string) string { return os.Getenv("KAFKI_CHILD_" + k) }
	topo, err := taggerTopology(get("IN"), get("OUT"))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	app, err := New(topo, get("APP"),
		SeedBrokers(strings.Split(get("BROKERS"), ",")...),
		StateDir(get("STATE")),
		CommitInterval(100*time.Millisecond),
		SessionTimeout(6*time.Second),
		// A member that dies during a rebalance holds the group up until
		// the rebalance timeout: keep it short.
		RebalanceTimeout(8*time.Second),
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
		time.Sleep(20 * time.Millisecond)
	}
	fmt.Println("running")
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM)
	select {
	case <-sig:
	case <-app.Done():
	}
	cctx, ccancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer ccancel()
	if err := app.Close(cctx); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

func startChild(t *testing.T, c *kafkatest.Cluster, appID, in, out string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), envChild+"=1",
		"KAFKI_CHILD_BROKERS="+strings.Join(c.Brokers, ","),
		"KAFKI_CHILD_IN="+in, "KAFKI_CHILD_OUT="+out, "KAFKI_CHILD_APP="+appID,
		"KAFKI_CHILD_STATE="+t.TempDir())
	cmd.Stderr = os.Stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	ready := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(stdout).ReadString('\n')
		ready <- line
		for { // drain
			if _, err := stdout.Read(make([]byte, 512)); err != nil {
				return
			}
		}
	}()
	select {
	case line := <-ready:
		if strings.TrimSpace(line) != "running" {
			t.Fatalf("child said %q", line)
		}
	case <-time.After(60 * time.Second):
		t.Fatalf("child did not start")
	}
	return cmd
}

// An instance killed with SIGKILL in the middle of the input loses
// nothing: every input record shows up in the output, processed by the
// killed instance before its last commit or by the survivor after.
func TestSIGKILLLosesNothing(t *testing.T) {
	if kafkatest.Real() {
		t.Log("running against a real cluster")
	}
	c := kafkatest.New(t, 3)
	in, out := c.Topic("in"), c.Topic("out")
	c.CreateTopic(in, 4, nil)
	c.CreateTopic(out, 4, nil)
	appID := c.Topic("kill")
	prod := c.Client()
	const n = 30000
	send := func(from, to int) {
		var rs []*kgo.Record
		for i := from; i < to; i++ {
			w := fmt.Sprintf("w%03d", i%500)
			rs = append(rs, &kgo.Record{Topic: in, Key: []byte(w), Value: []byte(strconv.Itoa(i))})
		}
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		if err := prod.ProduceSync(ctx, rs...).FirstErr(); err != nil {
			t.Fatalf("produce: %v", err)
		}
	}

	began := time.Now()
	victim := startChild(t, c, appID, in, out)
	survivor := startChild(t, c, appID, in, out)
	send(0, n/2)

	// Kill the victim while it is processing.
	seen := map[string]int{}
	cl := c.Client(kgo.ConsumeTopics(out), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	poll := func() {
		ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
		defer cancel()
		cl.PollFetches(ctx).EachRecord(func(r *kgo.Record) { seen[string(r.Value)]++ })
	}
	deadline := time.Now().Add(60 * time.Second)
	for len(seen) < n/8 && time.Now().Before(deadline) {
		poll()
	}
	t.Logf("%v: %d records seen, killing the victim", time.Since(began).Round(time.Millisecond), len(seen))
	if err := victim.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	send(n/2, n)

	deadline = time.Now().Add(90 * time.Second)
	for len(seen) < n && time.Now().Before(deadline) {
		poll()
	}
	t.Logf("%v: %d distinct records seen", time.Since(began).Round(time.Millisecond), len(seen))
	var missing []int
	dups := 0
	for i := 0; i < n; i++ {
		switch k := seen[strconv.Itoa(i)]; {
		case k == 0:
			missing = append(missing, i)
		case k > 1:
			dups += k - 1
		}
	}
	if len(missing) > 0 {
		t.Fatalf("%d of %d input records lost, e.g. %v", len(missing), n, missing[:min(10, len(missing))])
	}
	t.Logf("%d records, none lost, %d duplicates (processed again after the kill)", n, dups)
	if err := survivor.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	defer func() { t.Logf("%v: survivor closed", time.Since(began).Round(time.Millisecond)) }()
	if err := survivor.Wait(); err != nil {
		t.Fatalf("survivor exit: %v", err)
	}
}
