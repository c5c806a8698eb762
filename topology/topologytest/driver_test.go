package topologytest_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/kafki/kafki/serde"
	"github.com/kafki/kafki/state"
	"github.com/kafki/kafki/topology"
	"github.com/kafki/kafki/topology/topologytest"
)

// lookup enriches each record with the value its key has in a global store.
type lookup struct {
	ctx   topology.ProcessorContext[string, string]
	store state.KeyValueStore
}

func (l *lookup) Init(ctx topology.ProcessorContext[string, string]) error {
	l.ctx = ctx
	s, err := ctx.StateStore("names")
	if err != nil {
		return err
	}
	l.store = s.(state.KeyValueStore)
	return nil
}

func (l *lookup) Process(rec topology.Record[string, int64]) error {
	name, err := l.store.Get([]byte(rec.Key))
	if err != nil {
		return err
	}
	return l.ctx.Forward(topology.Record[string, string]{Key: rec.Key, Value: string(name), Timestamp: rec.Timestamp})
}

func (l *lookup) Close() error { return nil }

func build(t *testing.T) *topology.Topology {
	b := topology.NewBuilder()
	topology.AddSource(b, "src", serde.String(), serde.Int64(), "ids")
	topology.AddProcessor(b, "lookup", func() topology.Processor[string, int64, string, string] { return &lookup{} }, "src")
	topology.AddSink(b, "sink", "named", serde.String(), serde.String(), "lookup")
	b.AddGlobalStore(topology.GlobalStore{Topic: "names", Spec: state.Spec{Name: "names", Engine: state.InMemory},
		SourceName: "names-source", ProcessorName: "names-proc"})
	b.ConnectProcessorAndStateStores([]string{"lookup"}, "names")
	topo, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	return topo
}

func TestGlobalStoreAndDeserializationErrors(t *testing.T) {
	topo := build(t)
	if got := topo.Describe().String(); !strings.Contains(got, "Sub-topology: 1 for global store (will not generate tasks)") {
		t.Fatalf("describe:\n%s", got)
	}
	var skipped []int64
	d, err := topologytest.New(topo, topologytest.OnDeserializationError(func(rec *topology.RawRecord, err error) topology.ErrorAction {
		skipped = append(skipped, rec.Offset)
		return topology.Continue
	}))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	names := topologytest.CreateInputTopic(d, "names", serde.String(), serde.String())
	ids := topologytest.CreateInputTopic(d, "ids", serde.String(), serde.Int64())
	out := topologytest.CreateOutputTopic(d, "named", serde.String(), serde.String())
	if err := names.Pipe("k1", "one", time.UnixMilli(0)); err != nil {
		t.Fatal(err)
	}
	if err := ids.Pipe("k1", 7, time.UnixMilli(1)); err != nil {
		t.Fatal(err)
	}
	// A value that is not 8 bytes cannot be an int64: skipped, counted.
	if err := d.PipeRaw(topology.RawRecord{Topic: "ids", Key: []byte("k1"), Value: []byte("bad"), Timestamp: 2}); err != nil {
		t.Fatal(err)
	}
	recs, err := out.ReadKeyValues()
	if err != nil || len(recs) != 1 || recs[0].Value != "one" {
		t.Fatalf("got %v, %v", recs, err)
	}
	if len(skipped) != 1 || skipped[0] != 1 || d.Dropped(topology.DropDeserializationError) != 1 {
		t.Fatalf("skipped %v, dropped %d", skipped, d.Dropped(topology.DropDeserializationError))
	}
	if err := d.PipeRaw(topology.RawRecord{Topic: "nope"}); !errors.Is(err, topologytest.ErrUnknownTopic) {
		t.Fatalf("unknown topic: %v", err)
	}
	if _, err := d.StateStore("missing"); !errors.Is(err, topologytest.ErrUnknownStore) {
		t.Fatalf("unknown store: %v", err)
	}
}

func TestDeserializationErrorFailsByDefault(t *testing.T) {
	d, err := topologytest.New(build(t))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	err = d.PipeRaw(topology.RawRecord{Topic: "ids", Key: []byte("k"), Value: []byte("bad")})
	var de *topology.DeserializationError
	if !errors.As(err, &de) || de.Part != "value" || de.Topic != "ids" || de.Offset != 0 {
		t.Fatalf("err = %v", err)
	}
}
