package runtime

import (
	"fmt"
	"testing"
	"time"

	"github.com/kafki/kafki/internal/kafkatest"
)

// With a small buffer, a thread pauses the partitions whose buffers fill
// up and resumes them as they drain, and loses no record doing so.
func TestBackpressurePausesAndResumes(t *testing.T) {
	c := kafkatest.New(t, 1)
	in, out := c.Topic("words"), c.Topic("counts")
	c.CreateTopic(in, 2, nil)
	c.CreateTopic(out, 2, nil)
	const n = 5000
	want := map[string]int64{}
	words := make([]string, n)
	for i := range words {
		words[i] = fmt.Sprintf("w%03d", i%200)
		want[words[i]]++
	}
	produceWords(t, c.Client(), in, words)
	a := startApp(t, dslWordCount(t, in, out), c.Topic("backpressure"), testOpts(c, t.TempDir(), BufferedRecordsPerPartition(10))...)
	expectCounts(t, c, out, want, 60*time.Second)
	m := a.Metrics()
	if m.Pauses == 0 || m.Resumes == 0 {
		t.Fatalf("pauses %d, resumes %d: want both above 0 with a 10-record buffer", m.Pauses, m.Resumes)
	}
	var processed int64
	for _, tm := range m.Tasks {
		processed += tm.Processed
	}
	if processed != n {
		t.Fatalf("processed %d records, want %d", processed, n)
	}
}
