package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/kafki/kafki/examples/internal/exrun"
	"github.com/kafki/kafki/runtime"
	"github.com/kafki/kafki/serde"
	"github.com/kafki/kafki/state"
	"github.com/kafki/kafki/stream"
	"github.com/kafki/kafki/topology"
	"github.com/twmb/franz-go/pkg/kgo"
)

type config struct {
	brokers   string
	input     string
	appID     string
	instances int
	stateDir  string
	// ready, when set, gets the service URLs once every instance serves,
	// and run returns when it returns (tests; nil: serve until ctx ends).
	ready func(ctx context.Context, urls []string) error
}

func parseFlags(args []string, stderr io.Writer) (config, error) {
	cfg := config{input: "countservice-lines", appID: "kafki-countservice", instances: 3}
	fs := flag.NewFlagSet("countservice", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&cfg.brokers, "brokers", "", "comma-separated seed brokers (default: start an embedded broker)")
	fs.StringVar(&cfg.input, "input", cfg.input, "input topic: lines of text")
	fs.StringVar(&cfg.appID, "app-id", cfg.appID, "application id")
	fs.IntVar(&cfg.instances, "instances", cfg.instances, "instances to run in this process")
	fs.StringVar(&cfg.stateDir, "state-dir", "", "state directory (default: a temporary one)")
	if err := exrun.Parse(fs, args); err != nil {
		return cfg, err
	}
	if cfg.instances < 1 {
		return cfg, errors.New("--instances must be at least 1")
	}
	return cfg, nil
}

func main() { exrun.Main("countservice", parseFlags, run) }

// buildTopology counts words into the store "counts".
func buildTopology(input string) (*topology.Topology, error) {
	b := stream.NewBuilder()
	lines := stream.Stream(b, input, stream.ConsumedWith(serde.String(), serde.String()))
	words := stream.FlatMapValues(lines, splitWords)
	byWord := stream.GroupBy(words, func(_, w string) string { return w })
	stream.Count(byWord, stream.MaterializedAs[string, int64]("counts").WithEngine(state.InMemory))
	return b.Build()
}

func splitWords(line string) []string {
	return strings.FieldsFunc(strings.ToLower(line), func(r rune) bool {
		return !(r == '\'' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r > 0x7f)
	})
}

var text = []string{
	"the quick brown fox jumps over the lazy dog",
	"a stream is a table's changelog and a table is a stream's snapshot",
	"ask any instance for a word and it answers from the instance that has it",
}

func run(ctx context.Context, cfg config, stdout io.Writer) error {
	broker, err := exrun.Connect(cfg.brokers)
	if err != nil {
		return err
	}
	defer broker.Close()
	if err := broker.EnsureTopics(ctx, 6, cfg.input); err != nil {
		return err
	}
	var recs []*kgo.Record
	for _, l := range text {
		recs = append(recs, &kgo.Record{Topic: cfg.input, Value: []byte(l)})
	}
	if err := broker.Produce(ctx, recs); err != nil {
		return err
	}
	topo, err := buildTopology(cfg.input)
	if err != nil {
		return err
	}
	stateDir := cfg.stateDir
	if stateDir == "" {
		if stateDir, err = os.MkdirTemp("", "countservice-"); err != nil {
			return err
		}
		defer os.RemoveAll(stateDir)
	}
	var urls []string
	for i := 0; i < cfg.instances; i++ {
		app, err := runtime.New(topo, cfg.appID, runtime.SeedBrokers(broker.Addrs...),
			runtime.StateDir(fmt.Sprintf("%s/%d", stateDir, i)), runtime.CommitInterval(200*time.Millisecond),
			runtime.AdminAddr("127.0.0.1:0"), runtime.Logger(slog.New(slog.DiscardHandler)))
		if err != nil {
			return err
		}
		if err := app.Start(ctx); err != nil {
			return err
		}
		defer app.Close(context.Background())
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return err
		}
		srv := &http.Server{Handler: newService(app), ReadHeaderTimeout: 5 * time.Second}
		go srv.Serve(ln)
		defer srv.Close()
		url := "http://" + ln.Addr().String()
		urls = append(urls, url)
		fmt.Fprintf(stdout, "instance %d: %s/count/{word} (admin server %s)\n", i, url, app.AdminAddr())
	}
	if cfg.ready != nil {
		return cfg.ready(ctx, urls)
	}
	<-ctx.Done()
	return nil
}
