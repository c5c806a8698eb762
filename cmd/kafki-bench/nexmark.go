package main

import (
	"context"
	"fmt"
	"time"

	"github.com/kafki/kafki/examples/nexmark"
	"github.com/kafki/kafki/stream"
	"github.com/twmb/franz-go/pkg/kgo"
)

// nexmarkSeed fixes the generated events, so that runs compare.
const nexmarkSeed = 42

// nexmarkScenarios are the Nexmark query rows: the queries the nexmark
// package implements, then those that wait for windows and joins.
func nexmarkScenarios() []scenario {
	var out []scenario
	have := map[string]bool{}
	for _, q := range nexmark.Queries() {
		have[q.Name] = true
		needs := "nexmark"
		if windowedQuery(q.Name) {
			needs = "nexmark-window"
		}
		out = append(out, scenario{name: "nexmark-" + q.Name, title: "Nexmark " + q.Name + ": " + q.Title,
			input: "event", needs: needs,
			run: func(ctx context.Context, e env) (measure, error) { return nexmarkQuery(ctx, e, q) }})
	}
	for _, q := range []struct{ name, title string }{
		{"q5", "hot items (hopping window)"},
		{"q7", "highest bid per window"},
		{"q8", "new users per window (windowed join)"},
	} {
		if have[q.name] {
			continue
		}
		out = append(out, scenario{name: "nexmark-" + q.name, title: "Nexmark " + q.name + ": " + q.title,
			input: "event", needs: "nexmark-window",
			run: func(context.Context, env) (measure, error) {
				return measure{}, errUnavailable{"windowed aggregations and joins are not merged into main yet"}
			}})
	}
	return out
}

// nexmarkQuery runs one query over the prepared events until every event
// (and every record the query re-keys through a repartition topic) is
// processed.
func nexmarkQuery(ctx context.Context, e env, q nexmark.Query) (measure, error) {
	in, events := e.NexmarkTopic, e.Events
	if windowedQuery(q.Name) {
		in, events = e.NexmarkWindowTopic, e.WindowEvents
	}
	b := stream.NewBuilder()
	out := "bench-nexmark-" + q.Name + "-" + e.RunID + "-out"
	q.Build(b, in, out, nexmark.QueryOptions{})
	topo, err := b.Build()
	if err != nil {
		return measure{}, err
	}
	if err := createTopic(ctx, e, out, e.Partitions); err != nil {
		return measure{}, err
	}
	want, exact := events, true
	switch q.Name {
	case "q0", "q1", "q2":
	case "q3":
		// Persons and category-10 auctions pass through the repartition
		// topic and are processed a second time.
		g := nexmark.NewGenerator(nexmark.GeneratorConfig{Seed: nexmarkSeed})
		for range events {
			ev := g.Next()
			if ev.Kind == nexmark.KindPerson || ev.Kind == nexmark.KindAuction && ev.Auction.Category == nexmark.Q3Category {
				want++
			}
		}
	default:
		// Windowed queries re-read an unknown number of results: wait
		// for every event, then for the instance to go idle.
		exact = false
	}
	m, err := runAppUntil(ctx, e, topo, "bench-nexmark-"+q.Name+"-"+e.RunID, want, !exact)
	m.Records = events
	return m, err
}

// windowedQuery reports whether a query uses windows: those read their
// own input (--nexmark-window-events), which can be made smaller.
func windowedQuery(name string) bool { return name == "q5" || name == "q7" || name == "q8" }

// prepareNexmark writes n generated events to topic, round-robin over the
// partitions, with null keys and their event times as timestamps.
func prepareNexmark(ctx context.Context, b *broker, topic string, n int64, partitions int) error {
	if err := b.createTopic(ctx, topic, partitions, nil); err != nil {
		return err
	}
	p, err := newProducer(b.addrs)
	if err != nil {
		return err
	}
	g := nexmark.NewGenerator(nexmark.GeneratorConfig{Seed: nexmarkSeed, BaseTime: eventTimeBase()})
	es := nexmark.EventSerde()
	for i := int64(0); i < n; i++ {
		ev := g.Next()
		v, err := es.Serialize(topic, nil, ev)
		if err != nil {
			return fmt.Errorf("encode event %d: %w", i, err)
		}
		p.send(ctx, &kgo.Record{Topic: topic, Partition: int32(i % int64(partitions)), Value: v,
			Timestamp: time.UnixMilli(ev.Timestamp())})
	}
	return p.finish(ctx)
}
