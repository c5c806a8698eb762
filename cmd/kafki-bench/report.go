package main

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// row is one measured (or unavailable, or failed) scenario.
type row struct {
	sc  scenario
	res result
}

// report collects the rows of a run and prints them.
type report struct {
	machine machine
	broker  string
	command string
	started time.Time
	inputs  env
	rows    []row
	rawRate float64 // records/s of the raw pipe, 0 when it did not run
}

func (r *report) add(sc scenario, res result, e env) {
	r.rows = append(r.rows, row{sc, res})
	if sc.name == "raw-pipe" && res.ok() {
		r.rawRate = res.rate()
	}
}

func (r *report) failures() int {
	n := 0
	for _, rw := range r.rows {
		if rw.res.Err != "" {
			n++
		}
	}
	return n
}

func (res result) ok() bool { return res.Err == "" && res.Unavailable == "" && res.Seconds > 0 }

func (res result) rate() float64 { return float64(res.Records) / res.Seconds }

// short is the one-line progress report of a scenario.
func (res result) short() string {
	switch {
	case res.Err != "":
		return "FAILED: " + res.Err
	case res.Unavailable != "":
		return "not available: " + res.Unavailable
	}
	return fmt.Sprintf("%s records/s (%d records in %.2fs, %.2f CPU s)", human(res.rate()), res.Records, res.Seconds, res.CPUSeconds)
}

// cells returns the table cells of a row: records/s, ratio to the raw
// pipe, CPU seconds per million records, events/s per core, peak RSS.
func (r *report) cells(rw row) []string {
	res := rw.res
	switch {
	case res.Err != "":
		return []string{"failed", "", "", "", "", "error: " + res.Err}
	case res.Unavailable != "":
		return []string{"not available", "", "", "", "", res.Unavailable}
	}
	ratio := ""
	// Only rows reading the same records as the raw pipe compare with it.
	if r.rawRate > 0 && rw.sc.input == "line" && rw.sc.needs == "lines" {
		ratio = fmt.Sprintf("%.2f", res.rate()/r.rawRate)
	}
	perCore := ""
	if res.CPUSeconds > 0 {
		perCore = human(float64(res.Records) / res.CPUSeconds)
	}
	return []string{
		human(res.rate()),
		ratio,
		fmt.Sprintf("%.2f", res.CPUSeconds/float64(res.Records)*1e6),
		perCore,
		fmt.Sprintf("%.0f", float64(res.PeakRSS)/(1<<20)),
		strings.TrimSuffix(fmt.Sprintf("%d %ss in %.2f s; %s", res.Records, rw.sc.input, res.Seconds, res.Note), "; "),
	}
}

var header = []string{"scenario", "records/s", "vs raw pipe", "CPU s / M records", "records per CPU s", "peak RSS MiB", "measured"}

// table returns the rows as cells, header first.
func (r *report) table() [][]string {
	out := [][]string{header}
	for _, rw := range r.rows {
		out = append(out, append([]string{rw.sc.title}, r.cells(rw)...))
	}
	return out
}

// writeTable prints the table aligned for a terminal.
func (r *report) writeTable(w io.Writer) {
	t := r.table()
	widths := make([]int, len(header))
	for _, line := range t {
		for i, c := range line {
			if i < len(line)-1 { // the last column is free text
				widths[i] = max(widths[i], len([]rune(c)))
			}
		}
	}
	for _, line := range t {
		var b strings.Builder
		for i, c := range line {
			if i == len(line)-1 {
				b.WriteString(c)
				continue
			}
			pad := widths[i] - len([]rune(c))
			if i == 0 {
				b.WriteString(c + strings.Repeat(" ", pad))
			} else {
				b.WriteString(strings.Repeat(" ", pad) + c)
			}
			b.WriteString("  ")
		}
		fmt.Fprintln(w, strings.TrimRight(b.String(), " "))
	}
}

// markdown is the content of BENCHMARKS.md.
func (r *report) markdown() string {
	var b strings.Builder
	b.WriteString("# Kafki benchmarks\n\n")
	b.WriteString("Written by `cmd/kafki-bench`; do not edit by hand, run it again.\n\n")
	fmt.Fprintf(&b, "- Command: `%s`\n", r.command)
	fmt.Fprintf(&b, "- Date: %s\n", r.started.UTC().Format("2006-01-02 15:04 MST"))
	fmt.Fprintf(&b, "- Machine: %s\n", r.machine)
	fmt.Fprintf(&b, "- Broker: %s.\n", r.broker)
	e := r.inputs
	if e.LinesTopic != "" {
		fmt.Fprintf(&b, "- Stream input: %d records in %d partitions, each a line of %d words drawn uniformly from %d (about %d bytes, null key, event time 1 ms apart). Word count reads %d words back from its repartition topic.\n",
			e.Records, e.Partitions, wordsPerLine, vocabulary, wordsPerLine*6-1, e.Words)
	}
	if e.Lines1PTopic != "" {
		fmt.Fprintf(&b, "- Stream input in one partition: the same %d lines in one partition (the dense hopping-window row), so that the windowed count's repartition topic is written in event-time order: with the lines in several partitions, the number of window updates dropped as late changes from run to run (0 to 8M of 12M seen) with the order in which the partitions arrive.\n", e.Records)
	}
	if e.WindowLinesTopic != "" {
		fmt.Fprintf(&b, "- Windowed input: %d such lines (--window-records sets it), event time 100 ms apart, in %d partitions.\n", e.WindowRecords, e.Partitions)
	}
	if e.WindowLines1PTopic != "" {
		fmt.Fprintf(&b, "- Windowed input in one partition: the same %d lines in one partition, so that the windowed count's repartition topic is written in event-time order and no window update is dropped as late.\n", e.WindowRecords)
	}
	if e.RestoreTopic != "" {
		fmt.Fprintf(&b, "- Restoration: a compacted one-partition changelog of %d distinct keys (11-byte keys, 16-byte values) restored into a RocksDB store, final flush included.\n", e.RestoreKeys)
	}
	if e.NexmarkTopic != "" {
		fmt.Fprintf(&b, "- Nexmark: %d events (persons, auctions, bids in the Nexmark proportions 1:3:46, 10,000 events per second of event time) in %d partitions.\n", e.Events, e.Partitions)
	}
	if e.NexmarkWindowTopic != "" {
		fmt.Fprintf(&b, "- Nexmark windowed queries (q5, q7, q8): %d such events (--nexmark-window-events).\n", e.WindowEvents)
	}
	b.WriteString("- Kafki scenarios run one instance with one stream thread and the defaults (at-least-once, commit interval 30 s, caching on); the timed section runs from the moment the instance is RUNNING until Close has flushed, produced and committed everything. The raw pipe is one franz-go client (no group) timed from its creation to its final flush.\n")
	b.WriteString("- CPU seconds are the child process's user+system time (getrusage) over the timed section, all threads included (RocksDB's too); peak RSS is the child's VmHWM over its whole life. \"Records per CPU s\" is throughput per core.\n\n")
	t := r.table()
	for i, line := range t {
		b.WriteString("| " + strings.Join(escape(line), " | ") + " |\n")
		if i == 0 {
			b.WriteString("|" + strings.Repeat("---|", len(line)) + "\n")
		}
	}
	return b.String()
}

func escape(cells []string) []string {
	out := make([]string, len(cells))
	for i, c := range cells {
		out[i] = strings.ReplaceAll(c, "|", "\\|")
	}
	return out
}

// human formats a rate: 1234567 -> "1.23M".
func human(v float64) string {
	switch {
	case v >= 1e6:
		return fmt.Sprintf("%.2fM", v/1e6)
	case v >= 1e3:
		return fmt.Sprintf("%.1fk", v/1e3)
	}
	return fmt.Sprintf("%.0f", v)
}
