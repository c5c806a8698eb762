package main

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
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
	users         string // topics
	clicks        string
	output        string
	appID         string
	numUsers      int
	partitions    int
	baseTime      time.Time // event time of the first click
	span          time.Duration
	timeout       time.Duration
}

func defaultConfig() config {
	return config{users: "users", clicks: "clicks", output: "user-sessions", appID: "kafki-sessions",
		numUsers: 8, partitions: 2, baseTime: time.Date(2025, 1, 1, 9, 0, 0, 0, time.UTC), span: 2 * time.Hour,
		timeout: 5 * time.Minute}
}

func (c config) validate() error {
	switch {
	case c.numUsers < 1:
		return errors.New("--users must be at least 1")
	case c.partitions < 1:
		return errors.New("--partitions must be at least 1")
	case c.users == "" || c.clicks == "" || c.output == "" || c.appID == "":
		return errors.New("topic names and --app-id must not be empty")
	case c.timeout <= 0:
		return errors.New("--timeout must be positive")
	}
	return nil
}

func parseFlags(args []string, stderr io.Writer) (config, error) {
	cfg := defaultConfig()
	fs := flag.NewFlagSet("sessions", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&cfg.brokers, "brokers", "", "comma-separated seed brokers (default: start an embedded broker)")
	fs.StringVar(&cfg.commandConfig, "command-config", "", "Kafka client properties file: security.protocol, ssl.*, sasl.* (TLS and SASL)")
	fs.StringVar(&cfg.appID, "app-id", cfg.appID, "application id")
	fs.IntVar(&cfg.numUsers, "users", cfg.numUsers, "users to generate clicks for")
	fs.IntVar(&cfg.partitions, "partitions", cfg.partitions, "partitions of every topic this program creates")
	fs.DurationVar(&cfg.timeout, "timeout", cfg.timeout, "give up when processing takes longer")
	if err := exrun.Parse(fs, args); err != nil {
		return cfg, err
	}
	return cfg, cfg.validate()
}

func main() { exrun.Main("sessions", parseFlags, run) }

// click is one generated click of a user.
type click struct {
	user, page string
	at         time.Time
}

// guest clicks but has no row in the users table, so the inner join
// reports none of its sessions.
const guest = "guest"

// generate makes the users table and their clicks in time order: bursts
// of clicks less than inactivityGap apart, separated by longer pauses.
func generate(cfg config) (map[string]User, []click) {
	r := rand.New(rand.NewPCG(7, uint64(cfg.numUsers)))
	names := []string{"ann", "bob", "chen", "dara", "eli", "fay", "gus", "hana"}
	plans, pages := []string{"free", "pro", "team"}, []string{"/", "/search", "/item", "/cart", "/help"}
	users := map[string]User{}
	var clicks []click
	for i := range cfg.numUsers + 1 {
		id := fmt.Sprintf("u%02d", i)
		if i == cfg.numUsers {
			id = guest
		} else {
			users[id] = User{Name: names[i%len(names)], Plan: plans[i%len(plans)]}
		}
		for at := cfg.baseTime.Add(time.Duration(r.IntN(600)) * time.Second); at.Before(cfg.baseTime.Add(cfg.span)); {
			for n := 1 + r.IntN(6); n > 0; n-- {
				clicks = append(clicks, click{id, pages[r.IntN(len(pages))], at})
				at = at.Add(time.Duration(5+r.IntN(240)) * time.Second)
			}
			at = at.Add(inactivityGap + time.Duration(r.IntN(1800))*time.Second)
		}
	}
	slices.SortStableFunc(clicks, func(a, b click) int { return a.at.Compare(b.at) })
	return users, clicks
}

// run loads the users table, writes the clicks, waits until every session
// is reported and prints the reports.
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
	fmt.Fprintf(stdout, "sessions on %v: %s counted per session (gap %v) ⋈ %s -> %s\n",
		broker.Addrs, cfg.clicks, inactivityGap, cfg.users, cfg.output)
	if err := broker.EnsureTopics(ctx, int32(cfg.partitions), cfg.users, cfg.clicks, cfg.output); err != nil {
		return err
	}
	users, clicks := generate(cfg)
	var recs []*kgo.Record
	for id, u := range users {
		v, err := serde.JSON[User]().Serialize(cfg.users, nil, u)
		if err != nil {
			return err
		}
		recs = append(recs, &kgo.Record{Topic: cfg.users, Key: []byte(id), Value: v, Timestamp: cfg.baseTime.Add(-time.Hour)})
	}
	if err := broker.Produce(ctx, recs); err != nil {
		return err
	}
	topo, err := buildTopology(cfg)
	if err != nil {
		return err
	}
	_, err = exrun.RunApp(ctx, broker, topo, cfg.appID, exrun.Until(func(ctx context.Context, app *runtime.App) error {
		// The table first, so that every session finds its user.
		if err := broker.WaitApp(ctx, app, cfg.appID, topo); err != nil {
			return err
		}
		recs = recs[:0]
		for _, c := range clicks {
			recs = append(recs, &kgo.Record{Topic: cfg.clicks, Key: []byte(c.user), Value: []byte(c.page), Timestamp: c.at})
		}
		if err := broker.Produce(ctx, recs); err != nil {
			return err
		}
		// A session closes when stream time passes its end plus gap and
		// grace. Stream time is per task, so one later click on every
		// partition closes them all; its own session stays open and its
		// key has no user, so it is never reported.
		closing := cfg.baseTime.Add(cfg.span + 2*time.Hour)
		recs = recs[:0]
		for p := range cfg.partitions {
			recs = append(recs, &kgo.Record{Topic: cfg.clicks, Partition: int32(p), Key: []byte("~closing"), Value: []byte("/"), Timestamp: closing})
		}
		if err := broker.ProduceManual(ctx, recs); err != nil {
			return err
		}
		return broker.WaitApp(ctx, app, cfg.appID, topo)
	}))
	if err != nil {
		return err
	}
	out, err := broker.ReadAll(ctx, cfg.output)
	if err != nil {
		return err
	}
	type row struct {
		user string
		Report
	}
	rows := make([]row, 0, len(out))
	for _, r := range out {
		rep, err := serde.JSON[Report]().Deserialize(cfg.output, nil, r.Value)
		if err != nil {
			return fmt.Errorf("%s offset %d: %w", cfg.output, r.Offset, err)
		}
		rows = append(rows, row{string(r.Key), rep})
	}
	slices.SortFunc(rows, func(a, b row) int { return cmp.Or(cmp.Compare(a.user, b.user), a.Start.Compare(b.Start)) })
	fmt.Fprintf(stdout, "\n%d clicks, %d sessions reported:\n\n%-5s %-8s %-5s %-8s %-8s %s\n", len(clicks), len(rows),
		"user", "name", "plan", "from", "to", "clicks")
	for _, r := range rows {
		fmt.Fprintf(stdout, "%-5s %-8s %-5s %s %s %d\n", r.user, r.Name, r.Plan, r.Start.Format(time.TimeOnly), r.End.Format(time.TimeOnly), r.Clicks)
	}
	return nil
}
