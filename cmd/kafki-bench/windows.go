package main

import (
	"context"
	"strings"
	"time"

	"github.com/kafki/kafki/serde"
	"github.com/kafki/kafki/stream"
)

// hoppingWindow counts words per 5-minute window advancing by 1 minute
// (event time: the lines are 1 ms apart), with suppression: only each
// window's final count is written, once the window closes.
func hoppingWindow(ctx context.Context, e env) (measure, error) {
	b := stream.NewBuilder()
	lines := stream.Stream(b, e.WindowLinesTopic, serde.Bytes(), serde.String())
	words := stream.FlatMapValues(lines, strings.Fields, stream.WithValueSerde(serde.String()))
	byWord := stream.GroupBy(words, func(_ []byte, w string) string { return w }, stream.WithKeySerde(serde.String()))
	w := stream.TumblingWindows(5*time.Minute, 10*time.Second).AdvanceBy(time.Minute)
	counts := stream.CountWindowed(stream.WindowedBy(byWord, w), stream.StoreName("window-counts"))
	out := "bench-hopping-window-" + e.RunID + "-out"
	counts.Suppress(stream.UntilWindowCloses(stream.BufferConfig{})).ToStream().
		To(out, stream.WithKeySerde(stream.WindowedSerde(serde.String(), 5*time.Minute)))
	topo, err := b.Build()
	if err != nil {
		return measure{}, err
	}
	if err := createTopic(ctx, e, out, e.Partitions); err != nil {
		return measure{}, err
	}
	m, err := runApp(ctx, e, topo, "bench-hopping-window-"+e.RunID, e.WindowRecords+e.WindowWords)
	if err != nil {
		return m, err
	}
	m.Records = e.WindowRecords
	m.Note, err = outputNote(ctx, e, out, e.WindowWords)
	return m, err
}

// streamTableJoin will join the lines, keyed by their first word, with a
// table of the words, once KStream-KTable joins exist.
func streamTableJoin(context.Context, env) (measure, error) {
	return measure{}, errUnavailable{"KStream-KTable joins are not in the stream package yet"}
}
