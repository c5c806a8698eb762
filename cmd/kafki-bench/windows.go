package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/kafki/kafki/serde"
	"github.com/kafki/kafki/state"
	"github.com/kafki/kafki/stream"
	"github.com/twmb/franz-go/pkg/kgo"
)

// hoppingWindow counts words per 60 s window advancing by 10 s, with a
// 10 s grace period (issue 14's scenario; event time: the lines are 100 ms
// apart, so each word of a line updates 6 windows and most windows get
// one update), with suppression: only each window's final count is
// written, once the window closes.
func hoppingWindow(ctx context.Context, e env) (measure, error) {
	return hoppingWindowOn(ctx, e, "hopping-window", e.WindowLinesTopic, state.RocksDB)
}

// hoppingWindowDense runs the hopping-window count on word count's own
// lines (1 ms of event time apart), so that the two rows compare the same
// records: a 60 s window then holds 60,000 lines, each word repeats in it
// about 24 times, and the record cache folds those updates as it folds
// word count's. The lines are in one partition: in four, the upstream
// tasks write the repartition topic in batches whose order changes from
// run to run, and so does the share of window updates dropped as late
// (0 to 8M of 12M seen), and with it the work measured.
func hoppingWindowDense(ctx context.Context, e env) (measure, error) {
	e.WindowRecords, e.WindowWords = e.Records, e.Records*wordsPerLine
	return hoppingWindowOn(ctx, e, "hopping-window-dense", e.Lines1PTopic, state.RocksDB)
}

// hoppingWindowOn runs the hopping-window count on the lines of topic with
// its stores on engine. Its note says how many window updates were dropped
// as late: with the input in several partitions, the upstream tasks write
// the repartition topic in batches per input partition, so the counting
// task's stream time runs ahead of some of its records by more than the
// grace period and (as in Kafka Streams) their windows are dropped; with
// the input in one partition (hopping-window-1p) none are.
func hoppingWindowOn(ctx context.Context, e env, name, topic string, engine state.Engine) (measure, error) {
	b := stream.NewBuilder()
	lines := stream.Stream(b, topic, stream.ConsumedWith(serde.Bytes(), serde.String()))
	words := stream.FlatMapValues(lines, strings.Fields)
	byWord := stream.GroupBy(words, func(_ []byte, w string) string { return w })
	w := stream.TumblingWindows(60*time.Second, 10*time.Second).AdvanceBy(10 * time.Second)
	counts := stream.CountWindowed(stream.WindowedBy(byWord, w), stream.MaterializedAs[string, int64]("window-counts").WithEngine(engine))
	out := "bench-" + name + "-" + e.RunID + "-out"
	counts.Suppress(stream.UntilWindowCloses(stream.BufferConfig{}).WithEngine(engine)).ToStream().To(out)
	topo, err := b.Build()
	if err != nil {
		return measure{}, err
	}
	if err := createTopic(ctx, e, out, e.Partitions); err != nil {
		return measure{}, err
	}
	m, err := runApp(ctx, e, topo, "bench-"+name+"-"+e.RunID, e.WindowRecords+e.WindowWords)
	if err != nil {
		return m, err
	}
	m.Records = e.WindowRecords
	m.Note, err = outputNote(ctx, e, out, e.WindowWords)
	m.Note += fmt.Sprintf("; %d window updates dropped as late", m.Late)
	return m, err
}

// streamTableJoin re-keys the lines by their first word (a repartition
// topic) and joins each with a table of the vocabulary: word -> its
// definition, read from a compacted topic written (before the timed
// section) with event times older than every line, so that every line
// finds its row.
func streamTableJoin(ctx context.Context, e env) (measure, error) {
	table := "bench-stream-table-join-" + e.RunID + "-words"
	out := "bench-stream-table-join-" + e.RunID + "-out"
	if err := createTopic(ctx, e, table, e.Partitions); err != nil {
		return measure{}, err
	}
	if err := createTopic(ctx, e, out, e.Partitions); err != nil {
		return measure{}, err
	}
	p, err := newProducer(e.Brokers, kgo.StickyKeyPartitioner(nil))
	if err != nil {
		return measure{}, err
	}
	before := eventTimeBase() - 1
	for i := range vocabulary {
		p.send(ctx, &kgo.Record{Topic: table, Key: fmt.Appendf(nil, "w%04d", i),
			Value: fmt.Appendf(nil, "definition of word number %d", i), Timestamp: time.UnixMilli(before)})
	}
	if err := p.finish(ctx); err != nil {
		return measure{}, fmt.Errorf("write the table: %w", err)
	}

	b := stream.NewBuilder()
	words := stream.Table(b, table, stream.ConsumedWith(serde.String(), serde.String()), stream.MaterializedAs[string, string]("words"))
	lines := stream.Stream(b, e.LinesTopic, stream.ConsumedWith(serde.Bytes(), serde.String()))
	byFirst := stream.SelectKey(lines, func(_ []byte, line string) string {
		first, _, _ := strings.Cut(line, " ")
		return first
	})
	joined := stream.JoinTable(byFirst, words, func(line, def string) string { return line + " | " + def })
	joined.To(out)
	topo, err := b.Build()
	if err != nil {
		return measure{}, err
	}
	// Table rows, lines, and the lines again from the repartition topic.
	m, err := runApp(ctx, e, topo, "bench-stream-table-join-"+e.RunID, vocabulary+2*e.Records)
	if err != nil {
		return m, err
	}
	m.Records = e.Records
	m.Note, err = outputNote(ctx, e, out, e.Records)
	m.Note = strings.Replace(m.Note, "words", "lines", 1)
	return m, err
}

// streamStreamJoin outer-joins the lines keyed by their first word with the
// lines keyed by their last word, within 5 s of event time (5,000 lines
// either side): both sides go through a repartition topic, each record
// probes the other side's window store, and the records that found no
// partner wait in the outer-join store until their window closes.
func streamStreamJoin(ctx context.Context, e env) (measure, error) {
	out := "bench-stream-stream-join-" + e.RunID + "-out"
	if err := createTopic(ctx, e, out, e.Partitions); err != nil {
		return measure{}, err
	}
	b := stream.NewBuilder()
	lines := stream.Stream(b, e.LinesTopic, stream.ConsumedWith(serde.Bytes(), serde.String()))
	byFirst := stream.SelectKey(lines, func(_ []byte, line string) string {
		first, _, _ := strings.Cut(line, " ")
		return first
	})
	byLast := stream.SelectKey(lines, func(_ []byte, line string) string {
		return line[strings.LastIndexByte(line, ' ')+1:]
	})
	joined := stream.OuterJoin(byFirst, byLast, func(l, r *string) string {
		switch {
		case l == nil:
			return "- | " + *r
		case r == nil:
			return *l + " | -"
		}
		return *l + " | " + *r
	}, stream.JoinTimeDifference(5*time.Second, 0))
	joined.To(out)
	topo, err := b.Build()
	if err != nil {
		return measure{}, err
	}
	// The lines, then each line again from both repartition topics.
	m, err := runApp(ctx, e, topo, "bench-stream-stream-join-"+e.RunID, 3*e.Records)
	if err != nil {
		return m, err
	}
	m.Records = e.Records
	m.Note, err = outputNote(ctx, e, out, e.Records)
	m.Note = strings.Replace(m.Note, "words", "lines", 1)
	return m, err
}
