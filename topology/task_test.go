package topology_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/kafki/kafki/serde"
	"github.com/kafki/kafki/topology"
)

type sent struct {
	topic      string
	partition  int32
	key, value string
	nullValue  bool
	ts         int64
}

type collector struct{ out []sent }

func (c *collector) Send(topic string, partition int32, key, value []byte, _ []serde.Header, ts int64) error {
	c.out = append(c.out, sent{topic, partition, string(key), string(value), value == nil, ts})
	return nil
}

// upper upper-cases values, emits a "tick" record on every stream-time
// punctuation, and reports the metadata of the record it sees.
type upper struct {
	ctx   topology.ProcessorContext[string, string]
	metas []topology.RecordMetadata
}

func (u *upper) Init(ctx topology.ProcessorContext[string, string]) error {
	u.ctx = ctx
	_, err := ctx.Schedule(10*time.Millisecond, topology.StreamTime, func(ts time.Time) error {
		return ctx.Forward(topology.Record[string, string]{Key: "tick", Value: "t", Timestamp: ts})
	})
	return err
}

func (u *upper) Process(rec topology.Record[string, string]) error {
	if m, ok := u.ctx.RecordMetadata(); ok {
		u.metas = append(u.metas, m)
	}
	if rec.Value == "boom" {
		return errors.New("boom")
	}
	return u.ctx.Forward(rec.WithValue(strings.ToUpper(rec.Value)))
}

func (u *upper) Close() error { return nil }

func buildUpper(t *testing.T) (*topology.Topology, *upper) {
	t.Helper()
	p := &upper{}
	b := topology.NewBuilder()
	topology.AddSource(b, "src", serde.String(), serde.String(), "in")
	topology.AddProcessor(b, "up", func() topology.Processor[string, string, string, string] { return p }, "src")
	topology.AddSink(b, "sink", "out", serde.String(), serde.String(), "up")
	topo, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	return topo, p
}

func TestTaskSourceProcessorSink(t *testing.T) {
	topo, p := buildUpper(t)
	c := &collector{}
	task, err := topo.NewTask(topology.TaskConfig{ID: topology.TaskID{SubTopology: 0, Partition: 3}, ApplicationID: "app", Collector: c})
	if err != nil {
		t.Fatal(err)
	}
	if got := task.ID().String(); got != "0_3" {
		t.Fatalf("task id %q", got)
	}
	if task.StreamTime() != -1 {
		t.Fatalf("stream time before records = %d", task.StreamTime())
	}
	for i, r := range []topology.RawRecord{
		{Topic: "in", Partition: 3, Offset: 7, Key: []byte("k"), Value: []byte("a"), Timestamp: 5},
		{Topic: "in", Partition: 3, Offset: 8, Key: nil, Value: nil, Timestamp: 3},
		{Topic: "in", Partition: 3, Offset: 9, Key: []byte("k"), Value: []byte("b"), Timestamp: 25},
	} {
		if err := task.Process(&r); err != nil {
			t.Fatalf("record %d: %v", i, err)
		}
	}
	want := []sent{
		{"out", -1, "k", "A", false, 5},
		{"out", -1, "tick", "t", false, 5}, // stream-time punctuators start aligned at 0
		// The null-key, null-value record: the processor upper-cases the zero
		// value and WithValue makes it non-null; the key stays null.
		{"out", -1, "", "", false, 3},
		{"out", -1, "k", "B", false, 25},
		{"out", -1, "tick", "t", false, 25}, // 10 and 20 were missed: one punctuation, at 25
	}
	if len(c.out) != len(want) {
		t.Fatalf("got %v, want %v", c.out, want)
	}
	for i := range want {
		if c.out[i] != want[i] {
			t.Errorf("record %d: got %+v, want %+v", i, c.out[i], want[i])
		}
	}
	if task.StreamTime() != 25 {
		t.Fatalf("stream time %d", task.StreamTime())
	}
	if len(p.metas) != 3 || p.metas[2] != (topology.RecordMetadata{Topic: "in", Partition: 3, Offset: 9}) {
		t.Fatalf("metadata %v", p.metas)
	}
	err = task.Process(&topology.RawRecord{Topic: "in", Partition: 3, Offset: 10, Key: []byte("k"), Value: []byte("boom"), Timestamp: 26})
	var pe *topology.ProcessingError
	if !errors.As(err, &pe) || pe.Node != "up" || pe.Meta.Offset != 10 || !strings.Contains(err.Error(), "in/3@10") {
		t.Fatalf("processing error = %v", err)
	}
	if err := task.Process(&topology.RawRecord{Topic: "other"}); !errors.Is(err, topology.ErrUnknownTopic) {
		t.Fatalf("unknown topic error = %v", err)
	}
	if err := task.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestTaskErrorHandlers(t *testing.T) {
	topo, _ := buildUpper(t)
	c := &collector{}
	var drops []string
	task, err := topo.NewTask(topology.TaskConfig{
		ApplicationID: "app", Collector: c,
		OnProcessingError: func(*topology.ProcessingError) topology.ErrorAction { return topology.Continue },
		OnDropped:         func(node, reason string) { drops = append(drops, node+":"+reason) },
	})
	if err != nil {
		t.Fatal(err)
	}
	defer task.Close()
	if err := task.Process(&topology.RawRecord{Topic: "in", Value: []byte("boom"), Timestamp: 1}); err != nil {
		t.Fatal(err)
	}
	if err := task.Process(&topology.RawRecord{Topic: "in", Value: []byte("x"), Timestamp: -1}); err != nil {
		t.Fatal(err)
	}
	want := []string{"up:" + topology.DropProcessingError, ":" + topology.DropNegativeTimestamp}
	if strings.Join(drops, ",") != strings.Join(want, ",") {
		t.Fatalf("drops %v, want %v", drops, want)
	}
}

func TestWallClockPunctuation(t *testing.T) {
	now := time.UnixMilli(1000)
	var fired []int64
	b := topology.NewBuilder()
	topology.AddSource(b, "src", serde.String(), serde.String(), "in")
	topology.AddProcessor(b, "p", func() topology.Processor[string, string, string, string] {
		return &funcProc{init: func(ctx topology.ProcessorContext[string, string]) error {
			_, err := ctx.Schedule(100*time.Millisecond, topology.WallClockTime, func(ts time.Time) error {
				fired = append(fired, ts.UnixMilli())
				return nil
			})
			return err
		}}
	}, "src")
	topo, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	task, err := topo.NewTask(topology.TaskConfig{Collector: &collector{}, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	defer task.Close()
	for _, ms := range []int64{1099, 1100, 1150, 1450} {
		if err := task.Punctuate(time.UnixMilli(ms)); err != nil {
			t.Fatal(err)
		}
	}
	if len(fired) != 2 || fired[0] != 1100 || fired[1] != 1450 {
		t.Fatalf("fired at %v, want [1100 1450]", fired)
	}
}

type funcProc struct {
	init func(ctx topology.ProcessorContext[string, string]) error
}

func (f *funcProc) Init(ctx topology.ProcessorContext[string, string]) error { return f.init(ctx) }
func (f *funcProc) Process(topology.Record[string, string]) error            { return nil }
func (f *funcProc) Close() error                                             { return nil }

// A typed store accessor without a context is an error, not a panic.
func TestTypedStoreAccessorNilContext(t *testing.T) {
	var ctx topology.ProcessorContext[string, string]
	if _, err := topology.KeyValueStore(ctx, "s", serde.String(), serde.String()); !errors.Is(err, topology.ErrInvalid) {
		t.Fatalf("nil context: %v", err)
	}
}
