package runtime

import (
	"context"
	"testing"
	"time"

	"github.com/kafki/kafki/internal/kafkatest"
	"github.com/kafki/kafki/serde"
	"github.com/kafki/kafki/state"
	"github.com/kafki/kafki/topology"
)

// A Processor-API store declared with a zero-value Spec (only a name) is
// logged, as Kafka Streams' store builders are: when its task moves to an
// instance with an empty state directory, the new owner restores the
// counts from the changelog and goes on from them instead of from zero.
func TestZeroSpecStoreRestoresAfterMove(t *testing.T) {
	c := kafkatest.New(t, 0)
	in, out := c.Topic("words"), c.Topic("counts")
	c.CreateTopic(in, 2, nil)
	c.CreateTopic(out, 2, nil)
	appID := c.Topic("zero-spec")
	b := topology.NewBuilder()
	topology.AddSource(b, "source", serde.String(), serde.String(), in)
	topology.AddProcessor(b, "count", func() topology.Processor[string, string, string, string] {
		return &counter{name: "counts"}
	}, "source")
	b.AddStateStore(state.Spec{Name: "counts"}, "count")
	topology.AddSink(b, "sink", out, serde.String(), serde.String(), "count")
	topo, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}

	first := startApp(t, topo, appID, testOpts(c, t.TempDir())...)
	produceWords(t, c.Client(), in, []string{"a", "b", "a", "c", "a"})
	expectCounts(t, c, out, map[string]int64{"a": 3, "b": 1, "c": 1}, 30*time.Second)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := first.Close(ctx); err != nil {
		t.Fatal(err)
	}

	// Another instance, with nothing on disk, takes every task.
	startApp(t, topo, appID, testOpts(c, t.TempDir())...)
	produceWords(t, c.Client(), in, []string{"a", "b"})
	expectCounts(t, c, out, map[string]int64{"a": 4, "b": 2, "c": 1}, 30*time.Second)
}
