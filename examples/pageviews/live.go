package main

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"github.com/kafki/kafki/examples/internal/exrun"
	"github.com/kafki/kafki/runtime"
	"github.com/kafki/kafki/serde"
	"github.com/kafki/kafki/stream"
	"github.com/kafki/kafki/topology"
	"github.com/twmb/franz-go/pkg/kgo"
)

// closingPage is the key of the markers that close the last windows.
const closingPage = "~closing~"

// pages are the site's pages, the most visited first.
var pages = []string{"/home", "/products", "/cart", "/checkout", "/about", "/blog", "/help", "/jobs"}

// view is one generated page view.
type view struct {
	page string
	user string
	ts   int64
}

// generate returns cfg.minutes of views, cfg.perMinute a minute, in time
// order. Pages are drawn with weights 8:7:...:1, users from 50.
func generate(cfg config) []view {
	rng := rand.New(rand.NewPCG(2025, 1))
	total := cfg.minutes * cfg.perMinute
	weights := 0
	for i := range pages {
		weights += len(pages) - i
	}
	out := make([]view, total)
	for i := range out {
		r := rng.IntN(weights)
		p := 0
		for r >= len(pages)-p {
			r -= len(pages) - p
			p++
		}
		out[i] = view{page: pages[p], user: fmt.Sprintf("user-%02d", rng.IntN(50)),
			ts: cfg.baseTime + int64(i)*time.Minute.Milliseconds()/int64(cfg.perMinute)}
	}
	return out
}

// result is one final count.
type result struct {
	size  time.Duration // the window size: which aggregation
	start int64
	page  string
	count int64
}

// liveTable prints final counts as they arrive and keeps them for the
// summary.
type liveTable struct {
	w       io.Writer
	results []result
	header  bool
}

func newLiveTable(w io.Writer) *liveTable { return &liveTable{w: w} }

func (l *liveTable) add(r result) {
	if r.page == closingPage {
		return
	}
	if !l.header {
		fmt.Fprintf(l.w, "%-6s  %-11s  %-10s  %s\n", "window", "start (UTC)", "page", "views")
		l.header = true
	}
	l.results = append(l.results, r)
	fmt.Fprintf(l.w, "%-6s  %-11s  %-10s  %d\n", sizeName(r.size), time.UnixMilli(r.start).UTC().Format("01-02 15:04"), r.page, r.count)
}

func sizeName(d time.Duration) string { return fmt.Sprintf("%dm", int(d/time.Minute)) }

// summary prints the 1-minute counts as a grid: a row per minute, a
// column per page.
func (l *liveTable) summary() {
	grid := map[int64]map[string]int64{}
	for _, r := range l.results {
		if r.size != tumbleSize {
			continue
		}
		if grid[r.start] == nil {
			grid[r.start] = map[string]int64{}
		}
		grid[r.start][r.page] = r.count
	}
	starts := make([]int64, 0, len(grid))
	for s := range grid {
		starts = append(starts, s)
	}
	slices.Sort(starts)
	fmt.Fprintf(l.w, "\nviews per page per minute (%d final results, %d windows):\n", len(l.results), len(starts))
	var b strings.Builder
	fmt.Fprintf(&b, "%-5s", "UTC")
	for _, p := range pages {
		fmt.Fprintf(&b, " %9s", p)
	}
	fmt.Fprintln(l.w, b.String())
	for _, s := range starts {
		b.Reset()
		fmt.Fprintf(&b, "%-5s", time.UnixMilli(s).UTC().Format("15:04"))
		for _, p := range pages {
			fmt.Fprintf(&b, " %9d", grid[s][p])
		}
		fmt.Fprintln(l.w, b.String())
	}
}

// follow prints the final results as the application writes them, until
// it has processed all its input and every result is printed.
func follow(ctx context.Context, broker *exrun.Broker, app *runtime.App, cfg config, topo *topology.Topology, live *liveTable) error {
	cl, err := broker.Client(kgo.ConsumeTopics(cfg.outTumble, cfg.outHop), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		return err
	}
	defer cl.Close()
	decoders := map[string]serde.Serde[stream.Windowed[string]]{
		cfg.outTumble: stream.WindowedSerde(serde.String(), tumbleSize),
		cfg.outHop:    stream.WindowedSerde(serde.String(), hopSize),
	}
	sizes := map[string]time.Duration{cfg.outTumble: tumbleSize, cfg.outHop: hopSize}
	next := map[string]map[int32]int64{cfg.outTumble: {}, cfg.outHop: {}}
	consume := func(r *kgo.Record) error {
		k, err := decoders[r.Topic].Deserialize(r.Topic, nil, r.Key)
		if err != nil {
			return fmt.Errorf("%s offset %d: %w", r.Topic, r.Offset, err)
		}
		n, err := serde.Int64().Deserialize(r.Topic, nil, r.Value)
		if err != nil {
			return fmt.Errorf("%s offset %d: %w", r.Topic, r.Offset, err)
		}
		next[r.Topic][r.Partition] = r.Offset + 1
		live.add(result{size: sizes[r.Topic], start: k.Window.Start().UnixMilli(), page: k.Key, count: n})
		return nil
	}
	for {
		select {
		case <-app.Done():
			return fmt.Errorf("application stopped: %w", app.Err())
		default:
		}
		done, err := broker.Drained(ctx, cfg.appID, topo)
		if err != nil {
			return err
		}
		if done {
			// Everything is written: read the outputs to their ends.
			for _, topic := range []string{cfg.outTumble, cfg.outHop} {
				recs, err := broker.ReadAll(ctx, topic)
				if err != nil {
					return err
				}
				for _, r := range recs {
					if r.Offset >= next[topic][r.Partition] {
						if err := consume(r); err != nil {
							return err
						}
					}
				}
			}
			return nil
		}
		pctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
		fs := cl.PollFetches(pctx)
		cancel()
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("waiting for the results: %w", err)
		}
		var ferr error
		fs.EachRecord(func(r *kgo.Record) {
			if ferr == nil {
				ferr = consume(r)
			}
		})
		if ferr != nil {
			return ferr
		}
	}
}

// sortResults orders results by size, start and page, for comparisons.
func sortResults(rs []result) {
	slices.SortFunc(rs, func(a, b result) int {
		return cmp.Or(cmp.Compare(a.size, b.size), cmp.Compare(a.start, b.start), cmp.Compare(a.page, b.page))
	})
}
