package main

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/kafki/kafki/runtime"
	"github.com/kafki/kafki/serde"
	"github.com/kafki/kafki/stream"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestQueryCommand reads a word count's store of a running instance with
// kafki query, and lists the instance with --instances.
func TestQueryCommand(t *testing.T) {
	c, _ := cluster(t, 1)
	in := c.Topic("words")
	c.CreateTopic(in, 2, nil)
	b := stream.NewBuilder()
	g := stream.GroupByKey(stream.Stream(b, in, stream.ConsumedWith(serde.String(), serde.String())))
	stream.Count(g, stream.MaterializedAs[string, int64]("counts"))
	topo, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	var rs []*kgo.Record
	for i := 0; i < 30; i++ {
		rs = append(rs, &kgo.Record{Topic: in, Key: []byte(fmt.Sprintf("w%d", i%3)), Value: []byte("x")})
	}
	if err := c.Client().ProduceSync(context.Background(), rs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	app, err := runtime.New(topo, c.Topic("app"), runtime.SeedBrokers(c.Brokers...), runtime.StateDir(t.TempDir()),
		runtime.CommitInterval(100*time.Millisecond), runtime.AdminAddr("127.0.0.1:0"))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := app.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer app.Close(context.Background())
	view, err := runtime.KeyValueStoreView(app, "counts", serde.String(), serde.Int64())
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		n, ok, _ := view.Get("w0")
		if ok && n == 10 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("w0 never counted 10")
		}
		time.Sleep(20 * time.Millisecond)
	}
	addr := app.AdminAddr()
	r := ok(t, "", "query", "--app-server", addr, "--store", "counts", "--key", "w1", "--value-format", "long")
	equalLines(t, "query", r.stdout, "10")
	failsWith(t, 1, "key not found", "", "query", "--app-server", addr, "--store", "counts", "--key", "nope", "--value-format", "long")
	failsWith(t, 1, "unknown state store", "", "query", "--app-server", addr, "--store", "nope", "--key", "w1")
	failsWith(t, 2, "--app-server is required", "", "query", "--store", "counts", "--key", "w1")
	failsWith(t, 2, "unknown --value-format", "", "query", "--app-server", addr, "--store", "counts", "--key", "w1", "--value-format", "yaml")
	r = ok(t, "", "query", "--app-server", addr, "--instances")
	if !strings.Contains(r.stdout, addr+" stores=[counts]") {
		t.Fatalf("--instances: %q", r.stdout)
	}
}
