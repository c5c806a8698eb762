package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"time"
)

// options are the command's flags.
type options struct {
	records       int64
	restoreKeys   int64
	windowRecords int64
	nexmark       bool
	nexmarkEvents int64
	partitions    int
	brokers       string
	only          string
	out           string
	timeout       time.Duration

	// Set by the parent for a child.
	child string
	e     env
}

func parseOptions(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("kafki-bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Int64Var(&o.records, "records", 500_000, "input records (lines of 4 words) of the stream scenarios")
	fs.Int64Var(&o.windowRecords, "window-records", 50_000, "input records (lines of 4 words) of the windowed scenarios")
	fs.Int64Var(&o.restoreKeys, "restore-keys", 1_000_000, "keys in the changelog of the restoration scenario")
	fs.BoolVar(&o.nexmark, "nexmark", false, "also run the Nexmark queries")
	fs.Int64Var(&o.nexmarkEvents, "nexmark-events", 1_000_000, "Nexmark events generated for the queries")
	fs.Int64Var(&o.e.WindowEvents, "nexmark-window-events", 1_000_000, "Nexmark events generated for the windowed queries (q5, q7, q8)")
	fs.IntVar(&o.partitions, "partitions", 4, "partitions of the input topics")
	fs.StringVar(&o.brokers, "brokers", "", "seed brokers of a cluster to use (default: an in-process kfake broker)")
	fs.StringVar(&o.only, "only", "", "comma-separated scenarios to run (default: all); names: "+strings.Join(allNames(), ", "))
	fs.StringVar(&o.out, "out", "BENCHMARKS.md", "Markdown file the results are written to (empty: none)")
	fs.StringVar(&o.e.ProfileDir, "profile", "", "write a CPU profile of each scenario's timed section to this directory")
	fs.DurationVar(&o.timeout, "timeout", 15*time.Minute, "give up on a scenario after this long")
	// Internal: how the parent starts a child.
	fs.StringVar(&o.child, "child", "", "internal: run this scenario in this process")
	fs.StringVar(&o.e.RunID, "run-id", "", "internal")
	fs.Int64Var(&o.e.Words, "words", 0, "internal")
	fs.StringVar(&o.e.LinesTopic, "lines-topic", "", "internal")
	fs.Int64Var(&o.e.WindowWords, "window-words", 0, "internal")
	fs.StringVar(&o.e.WindowLinesTopic, "window-lines-topic", "", "internal")
	fs.StringVar(&o.e.WindowLines1PTopic, "window-lines-1p-topic", "", "internal")
	fs.StringVar(&o.e.Lines1PTopic, "lines-1p-topic", "", "internal")
	fs.StringVar(&o.e.RestoreTopic, "restore-topic", "", "internal")
	fs.StringVar(&o.e.NexmarkTopic, "nexmark-topic", "", "internal")
	fs.StringVar(&o.e.NexmarkWindowTopic, "nexmark-window-topic", "", "internal")
	fs.StringVar(&o.e.TmpDir, "tmp", "", "internal")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected arguments: %v", fs.Args())
	}
	switch {
	case o.records < 1 || o.windowRecords < 1 || o.restoreKeys < 1 || o.nexmarkEvents < 1 || o.e.WindowEvents < 1:
		return o, errors.New("--records, --window-records, --restore-keys, --nexmark-events and --nexmark-window-events must be positive")
	case o.partitions < 1:
		return o, errors.New("--partitions must be at least 1")
	case o.timeout <= 0:
		return o, errors.New("--timeout must be positive")
	}
	for _, n := range o.selected() {
		if _, ok := scenarioByName(n); !ok {
			return o, fmt.Errorf("--only: unknown scenario %q (known: %s)", n, strings.Join(allNames(), ", "))
		}
	}
	if o.brokers != "" {
		o.e.Brokers = strings.Split(o.brokers, ",")
	}
	o.e.WindowRecords = o.windowRecords
	o.e.Records, o.e.RestoreKeys, o.e.Events, o.e.Partitions = o.records, o.restoreKeys, o.nexmarkEvents, o.partitions
	return o, nil
}

func allNames() []string {
	var out []string
	for _, s := range append(scenarios, nexmarkScenarios()...) {
		out = append(out, s.name)
	}
	return out
}

// selected lists the scenarios --only names, or nil for the default set.
func (o options) selected() []string {
	if o.only == "" {
		return nil
	}
	var out []string
	for _, n := range strings.Split(o.only, ",") {
		if n = strings.TrimSpace(n); n != "" {
			out = append(out, n)
		}
	}
	return out
}

// plan returns the scenarios to run, in table order.
func (o options) plan() []scenario {
	all := scenarios
	if o.nexmark || o.only != "" {
		all = append(slices.Clone(scenarios), nexmarkScenarios()...)
	}
	want := o.selected()
	var out []scenario
	for _, s := range all {
		if want == nil || slices.Contains(want, s.name) {
			out = append(out, s)
		}
	}
	return out
}

func main() {
	o, err := parseOptions(os.Args[1:], os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "kafki-bench:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if o.child != "" {
		err = runChild(ctx, o.child, o.e, os.Stdout)
	} else {
		err = runParent(ctx, o, os.Stdout)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "kafki-bench:", err)
		os.Exit(1)
	}
}

// runParent prepares the inputs, runs every scenario in a child and
// reports.
func runParent(ctx context.Context, o options, stdout io.Writer) error {
	plan := o.plan()
	if len(plan) == 0 {
		return errors.New("no scenario to run")
	}
	m := describeMachine()
	fmt.Fprintf(stdout, "kafki-bench on %s\n", m)
	b, err := startBroker(o.e.Brokers)
	if err != nil {
		return err
	}
	defer b.close()
	tmp, err := os.MkdirTemp("", "kafki-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	e := o.e
	e.Brokers, e.TmpDir, e.RunID = b.addrs, tmp, fmt.Sprint(time.Now().Unix()%1_000_000)
	fmt.Fprintf(stdout, "broker: %s\n\n", b.describe())

	rep := report{machine: m, broker: b.describe(), command: commandLine(), started: time.Now()}
	prepared := map[string]bool{}
	for _, sc := range plan {
		if !prepared[sc.needs] {
			began := time.Now()
			if err := prepare(ctx, b, &e, sc.needs); err != nil {
				return fmt.Errorf("prepare %s input: %w", sc.needs, err)
			}
			prepared[sc.needs] = true
			fmt.Fprintf(stdout, "prepared %s input in %v\n", sc.needs, time.Since(began).Round(time.Millisecond))
		}
		fmt.Fprintf(stdout, "running %-20s ", sc.name)
		res, err := spawn(ctx, sc.name, e, o.timeout)
		if err != nil {
			res = result{Scenario: sc.name, Err: err.Error()}
		}
		fmt.Fprintln(stdout, res.short())
		rep.add(sc, res, e)
		if err := b.deleteTopics(ctx, "bench-"+sc.name+"-"+e.RunID); err != nil {
			fmt.Fprintf(stdout, "  (could not delete its topics: %v)\n", err)
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
	rep.inputs = e
	fmt.Fprintln(stdout)
	rep.writeTable(stdout)
	if o.out != "" {
		if err := os.WriteFile(o.out, []byte(rep.markdown()), 0o644); err != nil {
			return fmt.Errorf("write %s: %w", o.out, err)
		}
		fmt.Fprintf(stdout, "\nwrote %s\n", o.out)
	}
	if n := rep.failures(); n > 0 {
		return fmt.Errorf("%d scenario(s) failed", n)
	}
	return nil
}

// commandLine is how the run was started, as a user would type it.
func commandLine() string {
	args := os.Args[1:]
	if len(args) == 0 {
		return "make bench"
	}
	return "go run ./cmd/kafki-bench " + strings.Join(args, " ")
}
