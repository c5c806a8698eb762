package stream

import (
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/kafki/kafki/serde"
	"github.com/kafki/kafki/state"
	"github.com/kafki/kafki/topology"
)

// SlidingWindows are windows of a fixed time difference that slide with
// the records, as Kafka Streams' SlidingWindows: two records fall in a
// common window when their timestamps differ by at most TimeDifference.
// Windows [start, start+TimeDifference] (end inclusive) exist only where
// records are: one ending at each record, and one starting just after
// each record when later records fall in it.
type SlidingWindows struct {
	TimeDifference time.Duration
	Grace          time.Duration
}

// SlidingWindowsWithTimeDifference returns sliding windows (Kafka Streams'
// SlidingWindows.ofTimeDifferenceAndGrace).
func SlidingWindowsWithTimeDifference(diff, grace time.Duration) SlidingWindows {
	return SlidingWindows{TimeDifference: diff, Grace: grace}
}

func (w SlidingWindows) validate() error {
	if w.TimeDifference.Milliseconds() <= 0 {
		return topologyInvalid("sliding window time difference %v must be at least 1ms", w.TimeDifference)
	}
	if w.Grace < 0 {
		return topologyInvalid("sliding window grace %v must not be negative", w.Grace)
	}
	return nil
}

// SlidingWindowedKStream is a grouped stream cut into sliding windows.
type SlidingWindowedKStream[K, V any] struct {
	g KGroupedStream[K, V]
	w SlidingWindows
}

// SlidingWindowedBy cuts a grouped stream into sliding windows.
func SlidingWindowedBy[K, V any](g KGroupedStream[K, V], w SlidingWindows) SlidingWindowedKStream[K, V] {
	return SlidingWindowedKStream[K, V]{g: g, w: w}
}

// CountSliding counts the records per key and sliding window. The key
// serde of the result is WindowedSerde(key serde, time difference).
func CountSliding[K, V any](ws SlidingWindowedKStream[K, V], opts ...Option) KTable[Windowed[K], int64] {
	return slidingAggregate(ws, "KSTREAM-AGGREGATE-", serde.Int64(), opts,
		countStep[K, V])
}

// ReduceSliding combines the values per key and sliding window.
func ReduceSliding[K, V any](ws SlidingWindowedKStream[K, V], fn func(agg, v V) V, opts ...Option) KTable[Windowed[K], V] {
	return slidingAggregate(ws, "KSTREAM-REDUCE-", ws.g.s.valueSerde, opts, reduceStep[K](fn))
}

// AggregateSliding folds the values per key and sliding window into an
// aggregate starting from init(); WithValueSerde gives its serde. A
// window's aggregate folds its records in timestamp order.
func AggregateSliding[K, V, VA any](ws SlidingWindowedKStream[K, V], init func() VA, fn func(K, V, VA) VA, opts ...Option) KTable[Windowed[K], VA] {
	return slidingAggregate(ws, "KSTREAM-AGGREGATE-", nil, opts, aggregateStep(init, fn))
}

// slidingAggregate keeps two window stores: the windows' aggregates, and
// the records themselves (with duplicates), from which the aggregates of
// the windows a record changes are recomputed. That costs a scan of each
// such window, but needs no inverse of the aggregator and is exact for
// out-of-order records.
func slidingAggregate[K, V, VA any](ws SlidingWindowedKStream[K, V], prefix string, def serde.Serde[VA], opts []Option, step func(K, V, VA, bool) VA) KTable[Windowed[K], VA] {
	g := ws.g
	b := g.s.b
	o := collect(opts)
	store := o.storeName
	if store == "" {
		store = b.newName(prefix + "STATE-STORE-")
	}
	name := b.nameOr(o, prefix)
	if err := ws.w.validate(); err != nil {
		b.problem(fmt.Errorf("%q: %w", name, err))
	}
	vas := serdeOf(b, o.valueSerde, def, name, "value")
	ks := serdeOf(b, o.keySerde, g.s.keySerde, name, "key")
	vs := g.s.valueSerde
	need(b, ks, name, "key", "store "+store)
	need(b, vas, name, "value", "store "+store)
	need(b, vs, name, "value", "the record buffer of "+store)
	parent := groupedParent(g, store)
	w := ws.w
	spec := o.spec(store)
	spec.Kind, spec.Caching, spec.Timestamped = state.KindWindow, false, true
	spec.WindowSize = w.TimeDifference
	spec.Retention = windowRetention(b, o, name, w.TimeDifference+w.Grace+time.Millisecond)
	buffer := store + "-records"
	bspec := o.spec(buffer)
	bspec.Kind, bspec.Caching, bspec.RetainDuplicates = state.KindWindow, false, true
	bspec.WindowSize = w.TimeDifference
	bspec.Retention = 2*w.TimeDifference + w.Grace + time.Millisecond
	topology.AddProcessor(b.tb, name, func() topology.Processor[K, V, Windowed[K], Change[VA]] {
		return &slidingAggregator[K, V, VA]{store: store, buffer: buffer, diff: w.TimeDifference.Milliseconds(),
			grace: w.Grace.Milliseconds(), ks: ks, vs: vs, vas: vas, step: step, time: newStreamTime()}
	}, parent)
	b.tb.AddStateStore(spec, name)
	b.tb.AddStateStore(bspec, name)
	var wks serde.Serde[Windowed[K]]
	if ks != nil {
		wks = WindowedSerde(ks, w.TimeDifference)
	}
	b.ext.windowed(name, w.Grace)
	return KTable[Windowed[K], VA]{b: b, node: name, store: store, keySerde: wks, valueSerde: vas}
}

type slidingAggregator[K, V, VA any] struct {
	store, buffer string
	diff, grace   int64
	ks            serde.Serde[K]
	vs            serde.Serde[V]
	vas           serde.Serde[VA]
	step          func(K, V, VA, bool) VA
	ctx           topology.ProcessorContext[Windowed[K], Change[VA]]
	aggs, recs    state.WindowStore
	time          streamTime
}

func (p *slidingAggregator[K, V, VA]) Init(ctx topology.ProcessorContext[Windowed[K], Change[VA]]) error {
	p.ctx = ctx
	var err error
	if p.aggs, err = openWindowStore(ctx, p.store); err != nil {
		return err
	}
	p.recs, err = openWindowStore(ctx, p.buffer)
	return err
}

// starts returns the window starts of key's windows (from, to), or of its
// records, in the given range.
func starts(s state.WindowStore, kb []byte, from, to int64) ([]int64, error) {
	it, err := s.FetchRange(kb, max(0, from), max(0, to))
	if err != nil {
		return nil, err
	}
	var out []int64
	for it.Next() {
		out = append(out, it.WindowStart())
	}
	return out, errors.Join(it.Err(), it.Close())
}

func (p *slidingAggregator[K, V, VA]) Process(rec topology.Record[K, V]) error {
	if rec.NullKey || rec.NullValue {
		p.ctx.RecordDropped("null-key-or-value")
		return nil
	}
	t := rec.Timestamp
	closeTime := p.time.observe(t) - p.grace
	if t+p.diff < closeTime { // every window holding t has ended
		dropLate(p.ctx, t, t+p.diff, closeTime)
		return nil
	}
	kb, err := p.ks.Serialize(p.store, nil, rec.Key)
	if err != nil {
		return fmt.Errorf("serialize key for store %s: %w", p.store, err)
	}
	vb, err := p.vs.Serialize(p.buffer, nil, rec.Value)
	if err != nil {
		return fmt.Errorf("serialize value for store %s: %w", p.buffer, err)
	}
	if err := p.recs.Put(kb, vb, t); err != nil {
		return fmt.Errorf("put into %s: %w", p.buffer, err)
	}
	// The windows that change: those holding t already, the one ending
	// at t, those starting just after a record within diff before t, and
	// the one starting just after t if later records fall in it.
	cands, err := starts(p.aggs, kb, t-p.diff, t)
	if err != nil {
		return fmt.Errorf("fetch windows of %s: %w", p.store, err)
	}
	cands = append(cands, max(0, t-p.diff))
	before, err := starts(p.recs, kb, t-p.diff-1, t-1)
	if err != nil {
		return fmt.Errorf("fetch records of %s: %w", p.buffer, err)
	}
	for _, r := range before {
		cands = append(cands, r+1)
	}
	after, err := starts(p.recs, kb, t+1, t+1+p.diff)
	if err != nil {
		return fmt.Errorf("fetch records of %s: %w", p.buffer, err)
	}
	if len(after) > 0 {
		cands = append(cands, t+1)
	}
	slices.Sort(cands)
	for _, s := range slices.Compact(cands) {
		if s+p.diff < closeTime {
			continue // closed: a late record does not reopen it
		}
		if err := p.recompute(rec, kb, s); err != nil {
			return err
		}
	}
	return nil
}

// recompute folds the records of window [s, s+diff] and stores and
// forwards the result when it differs from what the window held.
func (p *slidingAggregator[K, V, VA]) recompute(rec topology.Record[K, V], kb []byte, s int64) error {
	it, err := p.recs.FetchRange(kb, s, s+p.diff)
	if err != nil {
		return fmt.Errorf("fetch records of %s: %w", p.buffer, err)
	}
	var agg VA
	had, ts := false, int64(-1)
	for it.Next() {
		v, err := p.vs.Deserialize(p.buffer, nil, it.Value())
		if err != nil {
			it.Close()
			return fmt.Errorf("deserialize record of %s: %w", p.buffer, err)
		}
		agg, had, ts = p.step(rec.Key, v, agg, had), true, max(ts, it.WindowStart())
	}
	if err := errors.Join(it.Err(), it.Close()); err != nil {
		return fmt.Errorf("fetch records of %s: %w", p.buffer, err)
	}
	if !had {
		return nil
	}
	var ch Change[VA]
	old, err := p.aggs.Fetch(kb, s)
	if err != nil {
		return fmt.Errorf("fetch window %d of %s: %w", s, p.store, err)
	}
	if old != nil {
		_, ob, err := state.DecodeTimestamped(old)
		if err == nil {
			ch.Old, err = p.vas.Deserialize(p.store, nil, ob)
		}
		if err != nil {
			return fmt.Errorf("deserialize aggregate of %s: %w", p.store, err)
		}
		ch.HasOld = true
	}
	nb, err := p.vas.Serialize(p.store, nil, agg)
	if err != nil {
		return fmt.Errorf("serialize aggregate for %s: %w", p.store, err)
	}
	if old != nil && s > rec.Timestamp {
		return nil // the window after the record existed already: unchanged
	}
	if err := p.aggs.Put(kb, state.EncodeTimestamped(ts, nb), s); err != nil {
		return fmt.Errorf("put window %d of %s: %w", s, p.store, err)
	}
	ch.New, ch.HasNew = agg, true
	return p.ctx.Forward(topology.Record[Windowed[K], Change[VA]]{Key: Windowed[K]{Key: rec.Key, Start: s, End: s + p.diff},
		Value: ch, Timestamp: ts, Headers: rec.Headers})
}

func (p *slidingAggregator[K, V, VA]) Close() error { return nil }
