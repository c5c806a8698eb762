package state

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/kafki/kafki/serde"
)

// BenchmarkTimeOrderedBufferFinalResults buffers what a hopping-window
// count suppressed until its windows close puts there: 10,000 words, each
// put under the end of one of the six open 60 s windows (10 s advance),
// the windows advancing every 10,000 puts and the closed ones emitted.
// The buffer is logged, as a DSL one is.
func BenchmarkTimeOrderedBufferFinalResults(b *testing.B) {
	const words, open, advance, size = 10000, 6, 10_000, 60_000
	keys := make([][][]byte, open+1) // by window, reused round robin
	for w := range keys {
		keys[w] = make([][]byte, words)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	value := []byte("12345678")
	buf := NewTimeOrderedBuffer("buf").logTo(Changelog{Topic: "buf-changelog", Sink: discardSink{}})
	emit := func([]byte, *BufferValue) error { return nil }
	var expire int64
	due := func() bool { return buf.MinTimestamp() <= expire }
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		tick := int64(i / words)
		w := tick + int64(rng.IntN(open)) // window starting at w*advance
		word := rng.IntN(words)
		slot := keys[w%int64(len(keys))]
		k := slot[word]
		if k == nil || int64(binary.BigEndian.Uint64(k[len(k)-8:])) != w*advance {
			k = binary.BigEndian.AppendUint64([]byte(fmt.Sprintf("word%05d", word)), uint64(w*advance))
			slot[word] = k
		}
		end := w*advance + size
		if err := buf.Put(end, k, nil, value, RecordContext{Timestamp: end - 1, Topic: "in", Offset: int64(i)}); err != nil {
			b.Fatal(err)
		}
		expire = (tick-1)*advance + size // the windows before tick closed
		if err := buf.EvictWhile(due, emit); err != nil {
			b.Fatal(err)
		}
		if i%100_000 == 99_999 { // a commit
			if err := buf.Flush(); err != nil {
				b.Fatal(err)
			}
		}
	}
}

type discardSink struct{}

func (discardSink) Send(string, int32, []byte, []byte, []serde.Header, int64) error { return nil }
