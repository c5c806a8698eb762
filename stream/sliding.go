package stream

import (
	"errors"
	"fmt"
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
	g    KGroupedStream[K, V]
	w    SlidingWindows
	emit Emit
}

// EmitStrategy sets when the aggregation forwards its results (Kafka
// Streams' SlidingWindowedKStream.emitStrategy); the default is
// OnWindowUpdate.
func (ws SlidingWindowedKStream[K, V]) EmitStrategy(e Emit) SlidingWindowedKStream[K, V] {
	ws.emit = e
	return ws
}

// SlidingWindowedBy cuts a grouped stream into sliding windows.
func SlidingWindowedBy[K, V any](g KGroupedStream[K, V], w SlidingWindows) SlidingWindowedKStream[K, V] {
	return SlidingWindowedKStream[K, V]{g: g, w: w}
}

// CountSliding counts the records per key and sliding window. The key
// serde of the result is WindowedSerde(key serde, time difference).
func CountSliding[K, V any](ws SlidingWindowedKStream[K, V], materialized ...Materialized[K, int64]) KTable[Windowed[K], int64] {
	return slidingAggregate(ws, "KSTREAM-AGGREGATE-", serde.Int64(), emitOpts(configs(materialized), ws.emit),
		countStep[K, V])
}

// ReduceSliding combines the values per key and sliding window.
func ReduceSliding[K, V any](ws SlidingWindowedKStream[K, V], fn func(agg, v V) V, materialized ...Materialized[K, V]) KTable[Windowed[K], V] {
	return slidingAggregate(ws, "KSTREAM-REDUCE-", ws.g.s.valueSerde, emitOpts(configs(materialized), ws.emit), reduceStep[K](fn))
}

// AggregateSliding folds the values per key and sliding window into an
// aggregate starting from init(); Materialized (or the builder's
// defaults) gives its serde. A window's aggregate folds its records in
// timestamp order.
func AggregateSliding[K, V, VA any](ws SlidingWindowedKStream[K, V], init func() VA, fn func(K, V, VA) VA, materialized ...Materialized[K, VA]) KTable[Windowed[K], VA] {
	return slidingAggregate(ws, "KSTREAM-AGGREGATE-", nil, emitOpts(configs(materialized), ws.emit), aggregateStep(init, fn))
}

// slidingAggregate keeps only the windows' aggregates, each with the
// largest timestamp of its records, and updates them incrementally as
// Kafka Streams' KStreamSlidingWindowAggregate does: a record updates the
// windows that hold it, creates its own left window [t-diff, t] (from the
// aggregate of the window ending just before it) and, when later records
// exist, its right window [t+1, t+1+diff] (from the aggregate of the
// latest window holding it, before it was added), and the right window of
// the record before it. A record whose windows have all closed leaves no
// trace.
func slidingAggregate[K, V, VA any](ws SlidingWindowedKStream[K, V], prefix string, def serde.Serde[VA], opts []option, step func(K, V, VA, bool) VA) KTable[Windowed[K], VA] {
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
	need(b, ks, name, "key", "store "+store)
	need(b, vas, name, "value", "store "+store)
	parent := groupedParent(g, store)
	w := ws.w
	spec := o.spec(store)
	final := o.ext.emit == OnWindowClose
	// Cached unless the results wait for the window to close, as Kafka
	// Streams.
	spec.Kind, spec.Caching, spec.Timestamped = state.KindWindow, spec.Caching && !final, true
	spec.WindowSize = w.TimeDifference
	// A record reads back to the window ending just before its own left
	// window: 2*diff before it, as Kafka Streams' retention.
	spec.Retention = windowRetention(b, o, name, 2*w.TimeDifference+w.Grace+time.Millisecond)
	topology.AddProcessor(b.tb, name, func() topology.Processor[K, V, Windowed[K], Change[VA]] {
		return &slidingAggregator[K, V, VA]{store: store, diff: w.TimeDifference.Milliseconds(),
			grace: w.Grace.Milliseconds(), ks: ks, vas: vas, step: step, final: final}
	}, parent)
	b.tb.AddStateStore(spec, name)
	var wks serde.Serde[Windowed[K]]
	if ks != nil {
		wks = WindowedSerde(ks, w.TimeDifference)
	}
	// A sliding window [s, e] includes its end: it closes only when stream
	// time passes e plus grace, a millisecond later than a time window
	// ending at e would.
	b.ext.windowed(name, w.Grace+time.Millisecond)
	return KTable[Windowed[K], VA]{b: b, node: name, store: store, keySerde: wks, valueSerde: vas}
}

type slidingAggregator[K, V, VA any] struct {
	store       string
	diff, grace int64
	ks          serde.Serde[K]
	vas         serde.Serde[VA]
	step        func(K, V, VA, bool) VA
	ctx         topology.ProcessorContext[Windowed[K], Change[VA]]
	aggs        state.WindowStore
	time        streamTime
	final       bool // OnWindowClose
	emit        finalEmitter
	cached      bool // the store's record cache forwards the updates
}

func (p *slidingAggregator[K, V, VA]) Init(ctx topology.ProcessorContext[Windowed[K], Change[VA]]) error {
	p.ctx = ctx
	p.time = resumeStreamTime(ctx)
	p.emit = newFinalEmitter(ctx, p.store, p.final, p.time.t, p.grace)
	var err error
	if p.aggs, err = openWindowStore(ctx, p.store); err != nil {
		return err
	}
	if !p.final {
		p.cached = forwardWindowFlushes(ctx, p.aggs, p.store, p.ks, p.vas, p.diff)
	}
	return nil
}

// slidingWindow is a window's aggregate: has is false for a window that
// starts empty, stored tells whether the store holds it, ts is the
// largest timestamp of its records.
type slidingWindow[VA any] struct {
	start       int64
	agg         VA
	ts          int64
	has, stored bool
}

// windows reads key's windows with start in [from, to], by start, or by
// descending start when backward.
func (p *slidingAggregator[K, V, VA]) windows(kb []byte, from, to int64, backward bool) ([]slidingWindow[VA], error) {
	fetch := p.aggs.FetchRange
	if backward {
		fetch = p.aggs.BackwardFetchRange
	}
	it, err := fetch(kb, max(0, from), max(0, to))
	if err != nil {
		return nil, fmt.Errorf("fetch windows of %s: %w", p.store, err)
	}
	var out []slidingWindow[VA]
	for it.Next() {
		ts, vb, err := state.DecodeTimestamped(it.Value())
		var agg VA
		if err == nil {
			agg, err = p.vas.Deserialize(p.store, nil, vb)
		}
		if err != nil {
			it.Close()
			return nil, fmt.Errorf("deserialize aggregate of %s: %w", p.store, err)
		}
		out = append(out, slidingWindow[VA]{start: it.WindowStart(), agg: agg, ts: ts, has: true, stored: true})
	}
	if err := errors.Join(it.Err(), it.Close()); err != nil {
		return nil, fmt.Errorf("fetch windows of %s: %w", p.store, err)
	}
	return out, nil
}

func (p *slidingAggregator[K, V, VA]) Process(rec topology.Record[K, V]) error {
	if !rec.NullKey && !rec.NullValue {
		// Windows that closed are emitted before the record's windows are
		// written, which may expire them from the store. A sliding
		// window's end is inclusive: it has closed when end < close time.
		closeTime := max(p.time.t, ms(rec.Timestamp)) - p.grace
		if err := emitClosed(&p.emit, p.ctx, p.aggs, p.store, p.ks, p.vas, p.diff, 0, closeTime, rec.Headers); err != nil {
			return err
		}
	}
	return p.process(rec)
}

func (p *slidingAggregator[K, V, VA]) process(rec topology.Record[K, V]) error {
	if rec.NullKey || rec.NullValue {
		p.ctx.RecordDropped("null-key-or-value")
		return nil
	}
	t := ms(rec.Timestamp)
	closeTime := p.time.observe(t) - p.grace
	if t+1+p.diff <= closeTime { // its left and right windows have closed
		dropLate(p.ctx, t, t+1+p.diff, closeTime)
		return nil
	}
	kb, err := p.ks.Serialize(p.store, nil, rec.Key)
	if err != nil {
		return fmt.Errorf("serialize key for store %s: %w", p.store, err)
	}
	if t < p.diff {
		return p.processEarly(rec, kb, closeTime)
	}
	// Latest window first, as Kafka Streams walks them when its store
	// can iterate backwards (both of its engines can): that fixes the
	// order of the updates forwarded.
	wins, err := p.windows(kb, t-2*p.diff, t+1, true)
	if err != nil {
		return err
	}
	starts := map[int64]bool{}
	var left, right *slidingWindow[VA]
	leftExists, rightExists := false, false
	prev := int64(-1) // the timestamp of the latest record before t, if any
	hasPrev := false
walk:
	for i := range wins {
		w := &wins[i]
		starts[w.start] = true
		end := w.start + p.diff
		switch {
		case w.start == t+1:
			rightExists = true
		case end > t:
			if right == nil {
				right = w
			}
			if err := p.update(rec, kb, *w, closeTime); err != nil {
				return err
			}
		case end == t:
			leftExists = true
			if err := p.update(rec, kb, *w, closeTime); err != nil {
				return err
			}
			if w.ts >= t {
				// A record at t was here before: its windows exist.
				return nil
			}
			prev, hasPrev = w.ts, true
		default: // end < t: the window ending just before t's left one
			left, prev, hasPrev = w, w.ts, true
			break walk
		}
	}
	if hasPrev && !starts[prev+1] && prev+1+p.diff >= t {
		// The record before t gets its right window, holding t.
		if err := p.update(rec, kb, slidingWindow[VA]{start: prev + 1, ts: t}, closeTime); err != nil {
			return err
		}
	}
	if !leftExists {
		w := slidingWindow[VA]{start: t - p.diff, ts: t}
		if hasPrev && t-p.diff <= prev {
			w.agg, w.has = left.agg, true
		}
		if err := p.update(rec, kb, w, closeTime); err != nil {
			return err
		}
	}
	if !rightExists && right != nil && right.ts > t {
		return p.createRight(rec, kb, t, *right)
	}
	return nil
}

// processEarly handles a record at t < diff, whose left window would
// start before 0: as Kafka Streams, the window [0, diff] holds every such
// record.
func (p *slidingAggregator[K, V, VA]) processEarly(rec topology.Record[K, V], kb []byte, closeTime int64) error {
	t := ms(rec.Timestamp)
	wins, err := p.windows(kb, 0, t+1, false)
	if err != nil {
		return err
	}
	starts := map[int64]bool{}
	var combined, right *slidingWindow[VA]
	rightExists := false
	prev, hasPrev := int64(-1), false
	for i := range wins {
		w := &wins[i]
		starts[w.start] = true
		switch {
		case w.start == 0:
			combined = w
			if w.ts < t {
				prev, hasPrev = w.ts, true
			}
		case w.start <= t:
			right = w
			if err := p.update(rec, kb, *w, closeTime); err != nil {
				return err
			}
		case w.start == t+1:
			rightExists = true
		default:
			return fmt.Errorf("stream: sliding windows of %s: unexpected window at %d for a record at %d", p.store, w.start, t)
		}
	}
	if right == nil && combined != nil && combined.ts > t {
		// Only later records are in [0, diff]: they form t's right window.
		right = combined
	}
	if !rightExists && right != nil && right.ts > t {
		if err := p.createRight(rec, kb, t, *right); err != nil {
			return err
		}
	}
	if hasPrev && !starts[prev+1] {
		if err := p.update(rec, kb, slidingWindow[VA]{start: prev + 1, ts: t}, closeTime); err != nil {
			return err
		}
	}
	if combined == nil {
		return p.update(rec, kb, slidingWindow[VA]{start: 0, ts: t}, closeTime)
	}
	return p.update(rec, kb, *combined, closeTime)
}

// update adds the record to window w, unless w has closed.
func (p *slidingAggregator[K, V, VA]) update(rec topology.Record[K, V], kb []byte, w slidingWindow[VA], closeTime int64) error {
	end := w.start + p.diff
	if end < closeTime {
		dropLate(p.ctx, ms(rec.Timestamp), end, closeTime)
		return nil
	}
	ts := ms(rec.Timestamp)
	if w.has {
		ts = max(ts, w.ts)
	}
	ch := Change[VA]{New: p.step(rec.Key, rec.Value, w.agg, w.has), HasNew: true}
	if w.stored {
		ch.Old, ch.HasOld = w.agg, true
	}
	return p.put(rec, kb, w.start, ch, ts)
}

// createRight creates t's right window with the aggregate of the records
// after t (right, taken before t was added).
func (p *slidingAggregator[K, V, VA]) createRight(rec topology.Record[K, V], kb []byte, t int64, right slidingWindow[VA]) error {
	return p.put(rec, kb, t+1, Change[VA]{New: right.agg, HasNew: true}, right.ts)
}

func (p *slidingAggregator[K, V, VA]) put(rec topology.Record[K, V], kb []byte, start int64, ch Change[VA], ts int64) error {
	nb, err := p.vas.Serialize(p.store, nil, ch.New)
	if err != nil {
		return fmt.Errorf("serialize aggregate for %s: %w", p.store, err)
	}
	if err := p.aggs.Put(kb, state.EncodeTimestamped(ts, nb), start); err != nil {
		return fmt.Errorf("put window %d of %s: %w", start, p.store, err)
	}
	if p.final || p.cached {
		return nil
	}
	return p.ctx.Forward(topology.Record[Windowed[K], Change[VA]]{Key: Windowed[K]{Key: rec.Key, Window: Window{start: start, end: start + p.diff}},
		Value: ch, Timestamp: msTime(ts), Headers: rec.Headers})
}

func (p *slidingAggregator[K, V, VA]) Close() error { return nil }
