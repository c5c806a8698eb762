package runtime_test

import (
	"context"
	"fmt"
	"os"
	"sort"
	"strconv"
	"time"

	"github.com/kafki/kafki/runtime"
	"github.com/kafki/kafki/serde"
	"github.com/kafki/kafki/stream"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Word count over pre-keyed words, run on an embedded broker.
func Example() {
	cluster, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		panic(err)
	}
	defer cluster.Close()
	brokers := cluster.ListenAddrs()
	ctx := context.Background()

	cl, _ := kgo.NewClient(kgo.SeedBrokers(brokers...))
	defer cl.Close()
	adm := kadm.NewClient(cl)
	adm.CreateTopic(ctx, 2, 1, nil, "words")
	adm.CreateTopic(ctx, 2, 1, nil, "counts")
	for _, w := range []string{"kafka", "streams", "kafka", "go", "kafka", "go"} {
		cl.ProduceSync(ctx, &kgo.Record{Topic: "words", Key: []byte(w), Value: []byte(w)})
	}

	// The topology: count words per key and write the counts.
	b := stream.NewBuilder()
	words := stream.Stream(b, "words", stream.ConsumedWith(serde.String(), serde.String()))
	counts := stream.Count(stream.GroupByKey(words), stream.MaterializedAs[string, int64]("counts"))
	stream.MapValues(counts.ToStream(), func(n int64) string { return strconv.FormatInt(n, 10) }).To("counts")
	topo, err := b.Build()
	if err != nil {
		panic(err)
	}

	dir, _ := os.MkdirTemp("", "kafki-example")
	defer os.RemoveAll(dir)
	app, err := runtime.New(topo, "wordcount",
		runtime.SeedBrokers(brokers...),
		runtime.StateDir(dir),
		runtime.CommitInterval(100*time.Millisecond),
	)
	if err != nil {
		panic(err)
	}
	if err := app.Start(ctx); err != nil {
		panic(err)
	}

	// Read the counts until every word has its final count.
	reader, _ := kgo.NewClient(kgo.SeedBrokers(brokers...), kgo.ConsumeTopics("counts"))
	defer reader.Close()
	latest := map[string]string{}
	for latest["kafka"] != "3" || latest["go"] != "2" || latest["streams"] != "1" {
		reader.PollFetches(ctx).EachRecord(func(r *kgo.Record) { latest[string(r.Key)] = string(r.Value) })
	}
	closeCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := app.Close(closeCtx); err != nil {
		panic(err)
	}

	keys := make([]string, 0, len(latest))
	for k := range latest {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Println(k, latest[k])
	}
	fmt.Println(app.State())
	// Output:
	// go 2
	// kafka 3
	// streams 1
	// NOT_RUNNING
}
