package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/kafki/kafki/examples/internal/exrun"
	"github.com/kafki/kafki/serde"
	"github.com/kafki/kafki/state"
	"github.com/kafki/kafki/stream"
	"github.com/kafki/kafki/topology"
	"github.com/twmb/franz-go/pkg/kgo"
)

// config is what the flags set.
type config struct {
	brokers       string // comma-separated seeds; empty: embedded broker
	commandConfig string
	input         string
	output        string
	appID         string
	stateDir      string // empty: a temporary directory removed at exit
	store         string // rocksdb or memory
	drain         bool   // process the existing input only, generate nothing
	repeat        int    // how many times the built-in text is written
	partitions    int
	threads       int
	top           int // how many counts to print; 0: all
	timeout       time.Duration
	verbose       bool
}

func defaultConfig() config {
	return config{
		input:      "streams-plaintext-input",
		output:     "streams-wordcount-output",
		appID:      "kafki-wordcount",
		store:      "rocksdb",
		repeat:     1,
		partitions: 2,
		threads:    1,
		top:        0,
		timeout:    5 * time.Minute,
	}
}

func parseFlags(args []string, stderr io.Writer) (config, error) {
	cfg := defaultConfig()
	fs := flag.NewFlagSet("wordcount", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&cfg.brokers, "brokers", "", "comma-separated seed brokers (default: start an embedded broker)")
	fs.StringVar(&cfg.commandConfig, "command-config", "", "Kafka client properties file: security.protocol, ssl.*, sasl.* (TLS and SASL)")
	fs.StringVar(&cfg.input, "input", cfg.input, "input topic: lines of text")
	fs.StringVar(&cfg.output, "output", cfg.output, "output topic: word -> count (8-byte big-endian)")
	fs.StringVar(&cfg.appID, "app-id", cfg.appID, "application id (consumer group, internal topic prefix)")
	fs.StringVar(&cfg.stateDir, "state-dir", "", "state directory (default: a temporary directory removed at exit)")
	fs.StringVar(&cfg.store, "store", cfg.store, "store engine: rocksdb or memory")
	fs.BoolVar(&cfg.drain, "drain", false, "process only what the input topic holds, until drained; write no input")
	fs.IntVar(&cfg.repeat, "repeat", cfg.repeat, "write the built-in text this many times")
	fs.IntVar(&cfg.partitions, "partitions", cfg.partitions, "partitions of the topics this program creates")
	fs.IntVar(&cfg.threads, "threads", cfg.threads, "stream threads")
	fs.IntVar(&cfg.top, "top", cfg.top, "print only the N most frequent words (0: all)")
	fs.DurationVar(&cfg.timeout, "timeout", cfg.timeout, "give up when processing takes longer")
	fs.BoolVar(&cfg.verbose, "v", false, "log the runtime's progress on standard error")
	if err := exrun.Parse(fs, args); err != nil {
		return cfg, err
	}
	return cfg, cfg.validate()
}

func (c config) validate() error {
	switch {
	case c.store != "rocksdb" && c.store != "memory":
		return fmt.Errorf("--store must be rocksdb or memory, got %q", c.store)
	case c.input == "" || c.output == "" || c.appID == "":
		return errors.New("--input, --output and --app-id must not be empty")
	case c.input == c.output:
		return fmt.Errorf("input and output are the same topic %q", c.input)
	case c.repeat < 1 && !c.drain:
		return fmt.Errorf("--repeat must be at least 1, got %d", c.repeat)
	case c.partitions < 1 || c.threads < 1:
		return errors.New("--partitions and --threads must be at least 1")
	case c.timeout <= 0:
		return errors.New("--timeout must be positive")
	}
	return nil
}

func main() { exrun.Main("wordcount", parseFlags, run) }

// buildTopology is word count in the DSL: split each line into lowercase
// words, re-key by word (a repartition topic, so that each word is counted
// by one task), count, and write every count update to output.
func buildTopology(cfg config) (*topology.Topology, error) {
	b := stream.NewBuilder()
	lines := stream.Stream(b, cfg.input, stream.ConsumedWith(serde.String(), serde.String()))
	words := stream.FlatMapValues(lines, splitWords)
	byWord := stream.GroupBy(words, func(_, word string) string { return word })
	store := stream.MaterializedAs[string, int64]("counts")
	if cfg.store == "memory" {
		store = store.WithEngine(state.InMemory)
	}
	stream.Count(byWord, store).ToStream().To(cfg.output)
	topo, err := b.Build()
	if err != nil {
		return nil, fmt.Errorf("build topology: %w", err)
	}
	return topo, nil
}

// splitWords returns the lowercase words of a line: runs of letters,
// digits and apostrophes.
func splitWords(line string) []string {
	return strings.FieldsFunc(strings.ToLower(line), func(r rune) bool {
		return !(r == '\'' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r > 0x7f)
	})
}

// run runs word count as cfg says and prints to stdout. It returns when
// the input is processed and the counts are printed, or when ctx ends.
func run(ctx context.Context, cfg config, stdout io.Writer) error {
	if err := cfg.validate(); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, cfg.timeout)
	defer cancel()
	broker, err := exrun.Connect(cfg.brokers, cfg.commandConfig)
	if err != nil {
		return err
	}
	defer broker.Close()
	where := "broker " + strings.Join(broker.Addrs, ",")
	if broker.Embedded {
		where = "embedded broker on " + broker.Addrs[0]
	}
	fmt.Fprintf(stdout, "word count on %s: %s -> %s, %s store\n", where, cfg.input, cfg.output, cfg.store)

	if cfg.drain {
		if err := broker.RequireTopics(ctx, cfg.input); err != nil {
			return err
		}
		if err := broker.EnsureTopics(ctx, int32(cfg.partitions), cfg.output); err != nil {
			return err
		}
	} else {
		if err := broker.EnsureTopics(ctx, int32(cfg.partitions), cfg.input, cfg.output); err != nil {
			return err
		}
		lines := generate(cfg.repeat)
		recs := make([]*kgo.Record, len(lines))
		for i, l := range lines {
			recs[i] = &kgo.Record{Topic: cfg.input, Value: []byte(l)}
		}
		if err := broker.Produce(ctx, recs); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "wrote %d lines to %s\n", len(lines), cfg.input)
	}

	topo, err := buildTopology(cfg)
	if err != nil {
		return err
	}
	logger := slog.New(slog.DiscardHandler)
	if cfg.verbose {
		logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	}
	st, err := exrun.RunApp(ctx, broker, topo, cfg.appID,
		exrun.StateDir(cfg.stateDir), exrun.Threads(cfg.threads), exrun.Logger(logger))
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "processed %d records (lines and re-keyed words) in %v\n",
		st.Processed, st.Elapsed.Round(time.Millisecond))

	counts, err := readCounts(ctx, broker, cfg.output)
	if err != nil {
		return err
	}
	printCounts(stdout, counts, cfg.top)
	return nil
}
