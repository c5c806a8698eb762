package stream_test

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/kafki/kafki/serde"
	"github.com/kafki/kafki/stream"
	"github.com/kafki/kafki/topology"
	"github.com/kafki/kafki/topology/topologytest"
)

// hideAppend hides a serde's serde.Appender, for the paths without it.
type hideAppend[T any] struct{ s serde.Serde[T] }

func (h hideAppend[T]) Serialize(topic string, hs []serde.Header, v T) ([]byte, error) {
	return h.s.Serialize(topic, hs, v)
}

func (h hideAppend[T]) Deserialize(topic string, hs []serde.Header, b []byte) (T, error) {
	return h.s.Deserialize(topic, hs, b)
}

// finalResult is one emitted final count.
type finalResult struct {
	key        string
	start, end int64
	count, ts  int64
}

func (r finalResult) String() string {
	return fmt.Sprintf("[%s@%d/%d]=%d@%d", r.key, r.start, r.end, r.count, r.ts)
}

// suppressModelInput is random input for a hopping count (10 ms windows
// advancing by 5 ms, grace 3 ms): keys that are prefixes of one another
// (so that key-byte order differs from string order once the window start
// is appended), multi-byte and empty ones, and timestamps that jitter
// back past the grace, so that some updates are late.
func suppressModelInput(n int) (keys []string, times []int64) {
	names := []string{"", "a", "ab", "abc", "b", "ba", "é", "z\x00", "z", "zz", "k1", "k10", "k2"}
	rng := rand.New(rand.NewPCG(14, 7))
	t := int64(0)
	for range n {
		t += int64(rng.IntN(3))
		keys = append(keys, names[rng.IntN(len(names))])
		times = append(times, max(0, t-int64(rng.IntN(6))))
	}
	return keys, times
}

// modelFinalResults is what a hopping count suppressed until its windows
// close must emit: per (key, window) closed by the last stream time the
// count of its records that were not late and their largest timestamp, in
// (window end, serialized windowed key) order, as Kafka Streams' buffer
// emits them when each update is forwarded at once.
func modelFinalResults(keys []string, times []int64, size, advance, grace int64) []finalResult {
	type win struct {
		key   string
		start int64
	}
	counts := map[win]*finalResult{}
	now := int64(-1)
	for i, k := range keys {
		t := times[i]
		now = max(now, t)
		for start := max(0, t-size+advance) / advance * advance; start <= t; start += advance {
			if start+size <= now-grace {
				continue // late
			}
			r := counts[win{k, start}]
			if r == nil {
				r = &finalResult{key: k, start: start, end: start + size}
				counts[win{k, start}] = r
			}
			r.count++
			r.ts = max(r.ts, t)
		}
	}
	var out []finalResult
	for _, r := range counts {
		if r.end <= now-grace {
			out = append(out, *r)
		}
	}
	keyBytes := func(r finalResult) []byte {
		return binary.BigEndian.AppendUint64([]byte(r.key), uint64(r.start))
	}
	slices.SortFunc(out, func(a, b finalResult) int {
		if a.end != b.end {
			return int(a.end - b.end)
		}
		return bytes.Compare(keyBytes(a), keyBytes(b))
	})
	return out
}

// runSuppressedCounts pipes the input through the hopping count
// suppressed until its windows close, with built-in serdes or with serdes
// that do not append, and returns what it emitted.
func runSuppressedCounts(t *testing.T, keys []string, times []int64, plain bool, opts ...topologytest.Option) []finalResult {
	t.Helper()
	var ks serde.Serde[string] = serde.String()
	var cs serde.Serde[int64] = serde.Int64()
	if plain {
		ks, cs = hideAppend[string]{ks}, hideAppend[int64]{cs}
	}
	b := stream.NewBuilder()
	s := stream.Stream(b, "in", stream.ConsumedWith(ks, serde.String()))
	w := stream.TumblingWindows(10*ms, 3*ms).AdvanceBy(5 * ms)
	counts := stream.CountWindowed(stream.WindowedBy(stream.GroupByKey(s), w), stream.MaterializedAs[string, int64]("counts").WithValueSerde(cs))
	// Peek keeps the emitted keys, which must not change afterwards
	// (the suppressor may decode them sharing the buffer's bytes).
	var kept []stream.Windowed[string]
	counts.Suppress(stream.UntilWindowCloses(stream.BufferConfig{}).WithName("final")).ToStream().
		Peek(func(k stream.Windowed[string], _ int64) { kept = append(kept, k) }).To("out")
	d := newDriver(t, b, append([]topologytest.Option{topologytest.StoreOpener(openStores)}, opts...)...)
	in := topologytest.CreateInputTopic(d, "in", serde.String(), serde.String())
	for i, k := range keys {
		pipe(t, in, k, "x", times[i])
	}
	if err := d.Flush(); err != nil {
		t.Fatal(err)
	}
	out := topologytest.CreateOutputTopic(d, "out", stream.WindowedSerde(serde.String(), 10*ms), serde.Int64())
	recs, err := out.ReadRecords()
	if err != nil {
		t.Fatal(err)
	}
	got := make([]finalResult, len(recs))
	for i, r := range recs {
		got[i] = finalResult{key: r.Key.Key, start: r.Key.Window.Start().UnixMilli(), end: r.Key.Window.End().UnixMilli(),
			count: r.Value, ts: r.Timestamp.UnixMilli()}
	}
	if !slices.EqualFunc(kept, recs, func(k stream.Windowed[string], r topology.Record[stream.Windowed[string], int64]) bool {
		return k == r.Key
	}) {
		t.Errorf("the keys emitted changed after their emission")
	}
	return got
}

// Every final result, its timestamp and the order of emission (window
// end, then key bytes) match a model of Kafka Streams' behaviour, whether
// the serdes append or not.
func TestSuppressFinalResultsMatchModel(t *testing.T) {
	keys, times := suppressModelInput(3000)
	want := modelFinalResults(keys, times, 10, 5, 3)
	if len(want) < 1000 {
		t.Fatalf("model: only %d results; the input does not exercise the buffer", len(want))
	}
	for _, plain := range []bool{false, true} {
		got := runSuppressedCounts(t, keys, times, plain)
		if !slices.Equal(got, want) {
			i := 0
			for i < min(len(got), len(want)) && got[i] == want[i] {
				i++
			}
			t.Errorf("plain serdes %v: %d results, want %d; first difference at %d: got %v, want %v",
				plain, len(got), len(want), i, at(got, i), at(want, i))
		}
	}
}

// With a small record cache flushed only when full or at a commit (as in
// production), final results reach the buffer in cache order; whatever
// the serdes, the results are the same records in the same order, and
// they are the model's results.
func TestSuppressFinalResultsThroughSmallCache(t *testing.T) {
	keys, times := suppressModelInput(3000)
	want := modelFinalResults(keys, times, 10, 5, 3)
	opts := []topologytest.Option{topologytest.ManualFlush(), topologytest.CacheMaxBytes(2 << 10)}
	fast := runSuppressedCounts(t, keys, times, false, opts...)
	plain := runSuppressedCounts(t, keys, times, true, opts...)
	if !slices.Equal(fast, plain) {
		t.Errorf("appending and plain serdes emit differently: %d and %d results", len(fast), len(plain))
	}
	sorted := slices.Clone(fast)
	slices.SortStableFunc(sorted, func(a, b finalResult) int {
		return slices.IndexFunc(want, func(r finalResult) bool { return r == a }) -
			slices.IndexFunc(want, func(r finalResult) bool { return r == b })
	})
	if !slices.Equal(sorted, want) {
		t.Errorf("%d results, want the model's %d", len(fast), len(want))
	}
}

func at(rs []finalResult, i int) string {
	if i < len(rs) {
		return rs[i].String()
	}
	return "nothing"
}
