package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"time"

	"github.com/kafki/kafki/examples/internal/exrun"
	"github.com/kafki/kafki/runtime"
	"github.com/kafki/kafki/serde"
	"github.com/kafki/kafki/stream"
	"github.com/kafki/kafki/topology"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Window sizes and grace: records up to 10 s late still count.
const (
	tumbleSize = time.Minute
	hopSize    = 5 * time.Minute
	hopAdvance = time.Minute
	grace      = 10 * time.Second
)

// config is what the flags set.
type config struct {
	brokers       string
	commandConfig string
	input         string
	outTumble     string
	outHop        string
	appID         string
	minutes       int   // event time the generated views span
	perMinute     int   // views generated per minute
	baseTime      int64 // event time of the first view, ms
	partitions    int
	timeout       time.Duration
}

func defaultConfig() config {
	return config{
		input:      "pageviews",
		outTumble:  "pageviews-per-minute",
		outHop:     "pageviews-per-5-minutes",
		appID:      "kafki-pageviews",
		minutes:    20,
		perMinute:  300,
		baseTime:   time.Date(2025, 1, 1, 12, 0, 0, 0, time.UTC).UnixMilli(),
		partitions: 2,
		timeout:    5 * time.Minute,
	}
}

func (c config) validate() error {
	switch {
	case c.minutes < 1 || c.perMinute < 1:
		return errors.New("--minutes and --views-per-minute must be at least 1")
	case c.partitions < 1:
		return errors.New("--partitions must be at least 1")
	case c.input == "" || c.outTumble == "" || c.outHop == "" || c.appID == "":
		return errors.New("topic names and --app-id must not be empty")
	case c.timeout <= 0:
		return errors.New("--timeout must be positive")
	}
	return nil
}

func parseFlags(args []string, stderr io.Writer) (config, error) {
	cfg := defaultConfig()
	fs := flag.NewFlagSet("pageviews", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&cfg.brokers, "brokers", "", "comma-separated seed brokers (default: start an embedded broker)")
	fs.StringVar(&cfg.commandConfig, "command-config", "", "Kafka client properties file: security.protocol, ssl.*, sasl.* (TLS and SASL)")
	fs.StringVar(&cfg.input, "input", cfg.input, "input topic: key page, value user, timestamp the view's time")
	fs.StringVar(&cfg.appID, "app-id", cfg.appID, "application id")
	fs.IntVar(&cfg.minutes, "minutes", cfg.minutes, "minutes of event time to generate")
	fs.IntVar(&cfg.perMinute, "views-per-minute", cfg.perMinute, "page views generated per minute")
	fs.IntVar(&cfg.partitions, "partitions", cfg.partitions, "partitions of the topics this program creates")
	fs.DurationVar(&cfg.timeout, "timeout", cfg.timeout, "give up when processing takes longer")
	if err := exrun.Parse(fs, args); err != nil {
		return cfg, err
	}
	return cfg, cfg.validate()
}

func main() { exrun.Main("pageviews", parseFlags, run) }

// buildTopology counts views per page (the record key) in both windows,
// keeps each count back until its window closes, and writes the final
// counts: key Windowed[page] (page bytes + 8-byte window start), value an
// 8-byte count.
func buildTopology(cfg config) (*topology.Topology, error) {
	b := stream.NewBuilder()
	views := stream.Stream(b, cfg.input, stream.ConsumedWith(serde.String(), serde.String()))
	byPage := stream.GroupByKey(views)
	final := stream.UntilWindowCloses(stream.BufferConfig{})

	perMinute := stream.CountWindowed(stream.WindowedBy(byPage, stream.TumblingWindows(tumbleSize, grace)), stream.MaterializedAs[string, int64]("views-per-minute"))
	perMinute.Suppress(final).ToStream().To(cfg.outTumble)

	per5 := stream.CountWindowed(stream.WindowedBy(byPage, stream.TumblingWindows(hopSize, grace).AdvanceBy(hopAdvance)), stream.MaterializedAs[string, int64]("views-per-5-minutes"))
	per5.Suppress(final).ToStream().To(cfg.outHop)

	topo, err := b.Build()
	if err != nil {
		return nil, fmt.Errorf("build topology: %w", err)
	}
	return topo, nil
}

// run generates the views, processes them and prints the final counts.
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
	fmt.Fprintf(stdout, "page views on %v: %s -> %s (1-minute tumbling), %s (5-minute hopping by 1 minute)\n",
		broker.Addrs, cfg.input, cfg.outTumble, cfg.outHop)
	if err := broker.EnsureTopics(ctx, int32(cfg.partitions), cfg.input, cfg.outTumble, cfg.outHop); err != nil {
		return err
	}
	views := generate(cfg)
	recs := make([]*kgo.Record, 0, len(views))
	for _, v := range views {
		recs = append(recs, &kgo.Record{Topic: cfg.input, Key: []byte(v.page), Value: []byte(v.user), Timestamp: time.UnixMilli(v.ts)})
	}
	if err := broker.Produce(ctx, recs); err != nil {
		return err
	}
	// Suppressed windows close when stream time passes their end plus
	// grace. Stream time is per task, so one closing marker per partition,
	// later than every window of the generated views, makes every result
	// final. The markers' own windows stay open and are never printed.
	end := cfg.baseTime + int64(cfg.minutes)*time.Minute.Milliseconds() + (hopSize + grace + time.Minute).Milliseconds()
	recs = recs[:0]
	for p := range cfg.partitions {
		recs = append(recs, &kgo.Record{Topic: cfg.input, Partition: int32(p), Key: []byte(closingPage), Value: []byte("-"),
			Timestamp: time.UnixMilli(end)})
	}
	if err := broker.ProduceManual(ctx, recs); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %d page views over %d minutes of event time\n\n", len(views), cfg.minutes)

	topo, err := buildTopology(cfg)
	if err != nil {
		return err
	}
	live := newLiveTable(stdout)
	if _, err := exrun.RunApp(ctx, broker, topo, cfg.appID, exrun.Until(func(ctx context.Context, app *runtime.App) error {
		return follow(ctx, broker, app, cfg, topo, live)
	})); err != nil {
		return err
	}
	live.summary()
	return nil
}
