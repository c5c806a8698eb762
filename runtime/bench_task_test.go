package runtime

import (
	"fmt"
	"path/filepath"
	"testing"

	"github.com/kafki/kafki/serde"
	"github.com/kafki/kafki/state"
	"github.com/kafki/kafki/topology"
)

// discardSink counts what a task sends, as the record collector and the
// changelog sink, and drops it.
type discardSink struct{ n int }

func (d *discardSink) Send(string, int32, []byte, []byte, []serde.Header, int64) error {
	d.n++
	return nil
}

// BenchmarkWordCountTaskNoCache is the task half of the cache-off word count
// (BenchmarkWordCountVsPipe/nocache) without the broker and the client:
// one task of the same topology over a RocksDB store with its write-back
// buffer and logging layer, the records pre-keyed words of the same
// vocabulary, a flush (a commit) every 250,000 records. The changelog and
// output records go to a sink that drops them, so the figure is Kafki's
// own per-record cost, steadier than the end-to-end one.
func BenchmarkWordCountTaskNoCache(b *testing.B) {
	topo := dslWordCountCaching(b, "words", "counts", false)
	dir := b.TempDir()
	sink := &discardSink{}
	var rc state.RecordContext
	var opened []state.Store
	task, err := topo.NewTask(topology.TaskConfig{
		ApplicationID: "bench",
		Collector:     sink,
		RecordContext: &rc,
		Stores: func(spec state.Spec) (state.Store, error) {
			inner, err := state.Open(spec, filepath.Join(dir, spec.Name))
			if err != nil {
				return nil, err
			}
			opened = append(opened, inner)
			return state.BuildStore(spec, inner, state.StackConfig{RecordContext: &rc,
				Changelog: state.Changelog{Topic: "bench-" + spec.Name + "-changelog", Sink: sink}})
		},
	})
	if err != nil {
		b.Fatal(err)
	}
	defer task.Close()
	vocab := make([][]byte, benchVocabulary/4) // one task: a quarter of the words
	for j := range vocab {
		vocab[j] = []byte(fmt.Sprintf("word-%05d", j*4))
	}
	rec := &topology.RawRecord{Topic: "words"}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		w := vocab[(i*7919)%len(vocab)]
		rec.Key, rec.Value, rec.Timestamp, rec.Offset = w, w, int64(i), int64(i)
		if err := task.Process(rec); err != nil {
			b.Fatal(err)
		}
		if i%250_000 == 249_999 {
			if err := task.Flush(); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.StopTimer()
	if sink.n != 2*b.N {
		b.Fatalf("sent %d records for %d words, want two per word", sink.n, b.N)
	}
}
