package runtime_test

import (
	"context"
	"strings"

	"github.com/kafki/kafki/runtime"
	"github.com/kafki/kafki/serde"
	"github.com/kafki/kafki/stream"
)

// The README's topology, as written there (it needs a broker on
// 127.0.0.1:9092, so it is compiled but not run).
func Example_readme() {
	ctx := context.Background()
	b := stream.NewBuilder()
	lines := stream.Stream(b, "text", stream.ConsumedWith(serde.String(), serde.String()))
	words := stream.FlatMapValues(lines, func(line string) []string {
		return strings.Fields(strings.ToLower(line))
	})
	byWord := stream.GroupBy(words, func(_, w string) string { return w })
	stream.Count(byWord, stream.MaterializedAs[string, int64]("counts")).ToStream().To("word-counts")

	topo, err := b.Build() // validates: missing serdes, duplicate names, cycles...
	app, err := runtime.New(topo, "wordcount", runtime.SeedBrokers("127.0.0.1:9092"))
	err = app.Start(ctx)
	defer app.Close(ctx)
	_ = err
}
