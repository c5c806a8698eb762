package topology_test

import (
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/kafki/kafki/serde"
	"github.com/kafki/kafki/topology"
)

// TestSourceTimestampExtractor gives every record the same Kafka timestamp
// and its event time in its value: the records downstream, the task's
// stream time and its stream-time punctuator must all follow the values.
func TestSourceTimestampExtractor(t *testing.T) {
	const kafkaTime = 1_000_000
	var fired, seen []int64
	b := topology.NewBuilder()
	topology.AddSourceWithExtractor(b, "src", serde.String(), serde.String(),
		func(_ string, v string, recordTs time.Time) time.Time {
			if v == "repair" {
				return time.UnixMilli(40) // a record whose own timestamp is unusable
			}
			ts, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				return time.Time{}
			}
			return time.UnixMilli(ts)
		}, "in")
	topology.AddProcessor(b, "p", func() topology.Processor[string, string, string, string] {
		return &recordingProc{
			init: func(ctx topology.ProcessorContext[string, string]) error {
				_, err := ctx.Schedule(10*time.Millisecond, topology.StreamTime, func(ts time.Time) error {
					fired = append(fired, ts.UnixMilli())
					return nil
				})
				return err
			},
			process: func(ctx topology.ProcessorContext[string, string], rec topology.Record[string, string]) error {
				seen = append(seen, rec.Timestamp.UnixMilli())
				return ctx.Forward(rec)
			},
		}
	}, "src")
	topology.AddSink(b, "sink", "out", serde.String(), serde.String(), "p")
	topo, err := b.Build()
	if err != nil {
		t.Fatal(err)
	}
	c := &collector{}
	var drops []string
	task, err := topo.NewTask(topology.TaskConfig{ApplicationID: "app", Collector: c,
		OnDropped: func(node, reason string) { drops = append(drops, node+":"+reason) }})
	if err != nil {
		t.Fatal(err)
	}
	defer task.Close()
	raw := func(v string, ts int64) *topology.RawRecord {
		return &topology.RawRecord{Topic: "in", Key: []byte("k"), Value: []byte(v), Timestamp: ts}
	}
	if got := task.RecordTime(raw("17", kafkaTime)); got != 17 {
		t.Errorf("RecordTime = %d, want the extracted 17", got)
	}
	for _, r := range []*topology.RawRecord{raw("5", kafkaTime), raw("8", kafkaTime), raw("12", kafkaTime),
		raw("9", kafkaTime), raw("31", kafkaTime), raw("bad", kafkaTime), raw("35", kafkaTime), raw("repair", -1)} {
		if err := task.Process(r); err != nil {
			t.Fatalf("process %q: %v", r.Value, err)
		}
	}
	// Aligned to 0: the first record fires, then each multiple of 10 that
	// stream time passes, skipping those it jumps over.
	if want := []int64{5, 12, 31, 40}; !slices.Equal(fired, want) {
		t.Errorf("stream-time punctuations at %v, want %v", fired, want)
	}
	if want := []int64{5, 8, 12, 9, 31, 35, 40}; !slices.Equal(seen, want) {
		t.Errorf("processor saw timestamps %v, want %v", seen, want)
	}
	if task.StreamTime() != 40 {
		t.Errorf("stream time %d, want 40", task.StreamTime())
	}
	if len(c.out) != 7 || c.out[0].ts != 5 || c.out[6].ts != 40 {
		t.Errorf("sink wrote %+v", c.out)
	}
	if want := []string{":" + topology.DropNegativeTimestamp}; !slices.Equal(drops, want) {
		t.Errorf("drops %v, want %v", drops, want)
	}
}

// TestSourceWithoutExtractorKeepsRecordTime checks the default: records
// keep their Kafka timestamps, RecordTime reads them without
// deserialising (nothing to extract), and a negative one is dropped before deserialisation.
func TestSourceWithoutExtractorKeepsRecordTime(t *testing.T) {
	topo, _ := buildUpper(t)
	var drops []string
	task, err := topo.NewTask(topology.TaskConfig{ApplicationID: "app", Collector: &collector{},
		OnDropped: func(node, reason string) { drops = append(drops, node+":"+reason) }})
	if err != nil {
		t.Fatal(err)
	}
	defer task.Close()
	if got := task.RecordTime(&topology.RawRecord{Topic: "in", Value: []byte("x"), Timestamp: 77}); got != 77 {
		t.Errorf("RecordTime = %d, want 77", got)
	}
	if err := task.Process(&topology.RawRecord{Topic: "in", Value: []byte("x"), Timestamp: -5}); err != nil {
		t.Fatal(err)
	}
	if task.StreamTime() != -1 || !slices.Equal(drops, []string{":" + topology.DropNegativeTimestamp}) {
		t.Errorf("after a negative timestamp: stream time %d, drops %v", task.StreamTime(), drops)
	}
}

// recordingProc is a processor made of functions.
type recordingProc struct {
	ctx     topology.ProcessorContext[string, string]
	init    func(ctx topology.ProcessorContext[string, string]) error
	process func(ctx topology.ProcessorContext[string, string], rec topology.Record[string, string]) error
}

func (p *recordingProc) Init(ctx topology.ProcessorContext[string, string]) error {
	p.ctx = ctx
	return p.init(ctx)
}

func (p *recordingProc) Process(rec topology.Record[string, string]) error {
	return p.process(p.ctx, rec)
}
func (p *recordingProc) Close() error { return nil }
