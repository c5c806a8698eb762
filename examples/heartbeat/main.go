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
	"github.com/twmb/franz-go/pkg/kgo"
)

// config is what the flags set.
type config struct {
	brokers       string
	commandConfig string
	heartbeats    string // topics
	alerts        string
	appID         string
	devices       int
	period        time.Duration // between two heartbeats of a device
	silence       time.Duration // after which a device is offline
	partitions    int
	timeout       time.Duration
}

func defaultConfig() config {
	return config{heartbeats: "heartbeats", alerts: "device-alerts", appID: "kafki-heartbeat", devices: 4,
		period: 250 * time.Millisecond, silence: 2 * time.Second, partitions: 2, timeout: 2 * time.Minute}
}

func (c config) validate() error {
	switch {
	case c.devices < 1:
		return errors.New("--devices must be at least 1")
	case c.partitions < 1:
		return errors.New("--partitions must be at least 1")
	case c.period <= 0 || c.silence < 4*time.Millisecond:
		return errors.New("--period must be positive and --silence at least 4ms")
	case c.heartbeats == "" || c.alerts == "" || c.appID == "":
		return errors.New("topic names and --app-id must not be empty")
	case c.timeout <= 0:
		return errors.New("--timeout must be positive")
	}
	return nil
}

func parseFlags(args []string, stderr io.Writer) (config, error) {
	cfg := defaultConfig()
	fs := flag.NewFlagSet("heartbeat", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&cfg.brokers, "brokers", "", "comma-separated seed brokers (default: start an embedded broker)")
	fs.StringVar(&cfg.commandConfig, "command-config", "", "Kafka client properties file: security.protocol, ssl.*, sasl.* (TLS and SASL)")
	fs.StringVar(&cfg.appID, "app-id", cfg.appID, "application id")
	fs.IntVar(&cfg.devices, "devices", cfg.devices, "devices sending heartbeats; device i stops after 4(i+1) of them")
	fs.DurationVar(&cfg.period, "period", cfg.period, "time between two heartbeats of a device")
	fs.DurationVar(&cfg.silence, "silence", cfg.silence, "a device silent for longer is reported offline")
	fs.IntVar(&cfg.partitions, "partitions", cfg.partitions, "partitions of the topics this program creates")
	fs.DurationVar(&cfg.timeout, "timeout", cfg.timeout, "give up when it takes longer")
	if err := exrun.Parse(fs, args); err != nil {
		return cfg, err
	}
	return cfg, cfg.validate()
}

func main() { exrun.Main("heartbeat", parseFlags, run) }

func deviceID(i int) string { return fmt.Sprintf("device-%d", i) }

// run starts the application, sends the heartbeats and prints the alerts
// until every device has been reported offline after its last heartbeat.
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
	fmt.Fprintf(stdout, "heartbeat on %v: %s -> %s (offline after %v of silence)\n\n", broker.Addrs, cfg.heartbeats, cfg.alerts, cfg.silence)
	if err := broker.EnsureTopics(ctx, int32(cfg.partitions), cfg.heartbeats, cfg.alerts); err != nil {
		return err
	}
	topo, err := buildTopology(cfg)
	if err != nil {
		return err
	}
	_, err = exrun.RunApp(ctx, broker, topo, cfg.appID, exrun.Until(func(ctx context.Context, app *runtime.App) error {
		ctx, cancel := exrun.StopOnDone(ctx, app)
		defer cancel()
		last, err := send(ctx, broker, cfg)
		if err == nil {
			err = follow(ctx, broker, cfg, last, stdout)
		}
		if aerr := app.Err(); aerr != nil {
			return fmt.Errorf("application failed: %w", aerr)
		}
		return err
	}))
	return err
}

// send writes a heartbeat from every device each period, device i
// stopping after 4(i+1) of them, and returns each device's last heartbeat
// time.
func send(ctx context.Context, broker *exrun.Broker, cfg config) (map[string]time.Time, error) {
	cl, err := broker.Client()
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	last := map[string]time.Time{}
	tick := time.NewTicker(cfg.period)
	defer tick.Stop()
	for round := 0; round < 4*cfg.devices; round++ {
		now := time.Now().Truncate(time.Millisecond)
		var recs []*kgo.Record
		for i := round / 4; i < cfg.devices; i++ {
			recs = append(recs, &kgo.Record{Topic: cfg.heartbeats, Key: []byte(deviceID(i)), Value: []byte("ok"), Timestamp: now})
			last[deviceID(i)] = now
		}
		if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
			return nil, fmt.Errorf("send heartbeats: %w", err)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-tick.C:
		}
	}
	return last, nil
}

// follow prints the alerts as they come and returns once every device's
// latest alert says it went offline after its last heartbeat.
func follow(ctx context.Context, broker *exrun.Broker, cfg config, last map[string]time.Time, stdout io.Writer) error {
	cl, err := broker.Client(kgo.ConsumeTopics(cfg.alerts), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		return err
	}
	defer cl.Close()
	latest := map[string]Alert{}
	done := func() bool {
		for id, at := range last {
			if a, ok := latest[id]; !ok || a.Online || !a.LastSeen.Equal(at) {
				return false
			}
		}
		return true
	}
	for !done() {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("waiting for every device to go offline: %w", err)
		}
		if err := fs.Err0(); err != nil {
			return fmt.Errorf("read %s: %w", cfg.alerts, err)
		}
		for _, r := range fs.Records() {
			a, err := serde.JSON[Alert]().Deserialize(cfg.alerts, nil, r.Value)
			if err != nil {
				return fmt.Errorf("%s offset %d: %w", cfg.alerts, r.Offset, err)
			}
			latest[string(r.Key)] = a
			status := "offline"
			if a.Online {
				status = "online"
			}
			fmt.Fprintf(stdout, "%s  %-9s %-7s last seen %s\n", r.Timestamp.UTC().Format("15:04:05.000"), r.Key, status,
				a.LastSeen.Format("15:04:05.000"))
		}
	}
	return nil
}
