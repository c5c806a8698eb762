package stream

import (
	"fmt"
	"time"

	"github.com/kafki/kafki/serde"
	"github.com/kafki/kafki/state"
	"github.com/kafki/kafki/topology"
)

// TimeWindowedKStream is a grouped stream cut into time windows, ready to
// aggregate per key and window.
type TimeWindowedKStream[K, V any] struct {
	g    KGroupedStream[K, V]
	w    TimeWindows
	emit Emit
}

// EmitStrategy sets when the aggregation forwards its results (Kafka
// Streams' TimeWindowedKStream.emitStrategy); the default is
// OnWindowUpdate.
func (ws TimeWindowedKStream[K, V]) EmitStrategy(e Emit) TimeWindowedKStream[K, V] {
	ws.emit = e
	return ws
}

// WindowedBy cuts a grouped stream into tumbling or hopping time windows.
func WindowedBy[K, V any](g KGroupedStream[K, V], w TimeWindows) TimeWindowedKStream[K, V] {
	return TimeWindowedKStream[K, V]{g: g, w: w}
}

// CountWindowed counts the records per key and window. The result is a
// windowed table whose key serde is WindowedSerde(key serde, window size).
func CountWindowed[K, V any](ws TimeWindowedKStream[K, V], materialized ...Materialized[K, int64]) KTable[Windowed[K], int64] {
	return windowAggregate(ws, "KSTREAM-AGGREGATE-", serde.Int64(), emitOpts(configs(materialized), ws.emit),
		countStep[K, V])
}

// ReduceWindowed combines the values per key and window; the first value
// of a window starts its aggregate.
func ReduceWindowed[K, V any](ws TimeWindowedKStream[K, V], fn func(agg, v V) V, materialized ...Materialized[K, V]) KTable[Windowed[K], V] {
	return windowAggregate(ws, "KSTREAM-REDUCE-", ws.g.s.valueSerde, emitOpts(configs(materialized), ws.emit), reduceStep[K](fn))
}

// AggregateWindowed folds the values per key and window into an aggregate
// starting from init(); Materialized (or the builder's defaults) gives the
// aggregate's serde.
func AggregateWindowed[K, V, VA any](ws TimeWindowedKStream[K, V], init func() VA, fn func(K, V, VA) VA, materialized ...Materialized[K, VA]) KTable[Windowed[K], VA] {
	return windowAggregate(ws, "KSTREAM-AGGREGATE-", nil, emitOpts(configs(materialized), ws.emit), aggregateStep(init, fn))
}

// windowRetention is the store's retention: at least what the windows need
// to accept records up to the end of their grace period.
func windowRetention(b *Builder, o *options, name string, need time.Duration) time.Duration {
	if o.ext.retention == 0 {
		return need
	}
	if o.ext.retention < need {
		b.problem(topologyInvalid("%q: retention %v is shorter than window size plus grace (%v)", name, o.ext.retention, need))
		return need
	}
	return o.ext.retention
}

// groupedParent returns the node an aggregation of g reads from,
// repartitioning first when the key may have changed.
func groupedParent[K, V any](g KGroupedStream[K, V], store string) string {
	s := g.s
	if !s.repartition {
		return s.node
	}
	base := g.name
	if base == "" {
		base = store
	}
	return repartitionThrough(s.b, s.node, base, s.keySerde, s.valueSerde, 0, true)
}

func windowAggregate[K, V, VA any](ws TimeWindowedKStream[K, V], prefix string, def serde.Serde[VA], opts []option, step func(K, V, VA, bool) VA) KTable[Windowed[K], VA] {
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
	spec := o.spec(store)
	spec.Kind = state.KindWindow
	// As Kafka Streams: a cache merges a window's updates between commits,
	// unless the results wait for the window to close (the emitter reads
	// the store then, and forwards each window once anyway).
	final := o.ext.emit == OnWindowClose
	spec.Caching = spec.Caching && !final
	spec.WindowSize = ws.w.Size
	spec.Timestamped = true // values carry the latest record timestamp (state.EncodeTimestamped)
	spec.Retention = windowRetention(b, o, name, ws.w.Size+ws.w.Grace)
	w := ws.w
	topology.AddProcessor(b.tb, name, func() topology.Processor[K, V, Windowed[K], Change[VA]] {
		return &windowAggregator[K, V, VA]{store: store, w: w, ks: ks, vs: vas, step: step, final: final}
	}, parent)
	b.tb.AddStateStore(spec, name)
	var wks serde.Serde[Windowed[K]]
	if ks != nil {
		wks = WindowedSerde(ks, w.Size)
	}
	b.ext.windowed(name, w.Grace)
	return KTable[Windowed[K], VA]{b: b, node: name, store: store, keySerde: wks, valueSerde: vas}
}

func openWindowStore[KO, VO any](ctx topology.ProcessorContext[KO, VO], name string) (state.WindowStore, error) {
	s, err := ctx.StateStore(name)
	if err != nil {
		return nil, err
	}
	ws, ok := s.(state.WindowStore)
	if !ok {
		return nil, fmt.Errorf("stream: store %q is a %T, not a window store", name, s)
	}
	return ws, nil
}

type windowAggregator[K, V, VA any] struct {
	store string
	w     TimeWindows
	ks    serde.Serde[K]
	vs    serde.Serde[VA]
	step  func(K, V, VA, bool) VA
	ctx   topology.ProcessorContext[Windowed[K], Change[VA]]
	ws    state.WindowStore
	time  streamTime
	final bool // OnWindowClose
	emit  finalEmitter
	// cached: the store's record cache forwards the updates.
	cached bool
	// va is vs when it appends: a window's new aggregate is then encoded
	// behind its timestamp in one allocation, sized by hint (the length
	// of the last one), and handed to owned, the store when it keeps a
	// slice given to it rather than a copy.
	va    serde.Appender[VA]
	hint  int
	owned windowOwnedPutter
}

// windowOwnedPutter is a window store that can keep the value slice it is
// given (the caching window store): the caller never modifies it again.
type windowOwnedPutter interface {
	PutOwned(key, value []byte, windowStart int64) error
}

func (p *windowAggregator[K, V, VA]) Init(ctx topology.ProcessorContext[Windowed[K], Change[VA]]) error {
	p.ctx = ctx
	p.time = resumeStreamTime(ctx)
	p.emit = newFinalEmitter(ctx, p.store, p.final, p.time.t, p.w.Grace.Milliseconds())
	ws, err := openWindowStore(ctx, p.store)
	if err != nil {
		return err
	}
	p.ws = ws
	p.va, _ = p.vs.(serde.Appender[VA])
	p.owned, _ = ws.(windowOwnedPutter)
	if !p.final {
		p.cached = forwardWindowFlushes(ctx, ws, p.store, p.ks, p.vs, p.w.Size.Milliseconds())
	}
	return nil
}

func (p *windowAggregator[K, V, VA]) Process(rec topology.Record[K, V]) error {
	if rec.NullKey || rec.NullValue {
		p.ctx.RecordDropped("null-key-or-value")
		return nil
	}
	kb, err := p.ks.Serialize(p.store, nil, rec.Key)
	if err != nil {
		return fmt.Errorf("serialize key for store %s: %w", p.store, err)
	}
	t := ms(rec.Timestamp)
	now := p.time.observe(t)
	closeTime := now - p.w.Grace.Milliseconds()
	size := p.w.Size.Milliseconds()
	// Windows that closed are emitted before the record's windows are
	// written, which may expire them from the store. A time window's end
	// is exclusive: it has closed when end <= close time.
	if err := emitClosed(&p.emit, p.ctx, p.ws, p.store, p.ks, p.vs, size, 1, closeTime, rec.Headers); err != nil {
		return err
	}
	return p.w.windowStarts(t, func(start int64) error {
		end := start + size
		if end <= closeTime {
			dropLate(p.ctx, t, end, closeTime)
			return nil
		}
		old, err := p.ws.Fetch(kb, start)
		if err != nil {
			return fmt.Errorf("fetch window %d of store %s: %w", start, p.store, err)
		}
		var ch Change[VA]
		ts := t
		if old != nil {
			oldTs, ob, err := state.DecodeTimestamped(old)
			if err != nil {
				return err
			}
			if ch.Old, err = p.vs.Deserialize(p.store, nil, ob); err != nil {
				return fmt.Errorf("deserialize aggregate of store %s: %w", p.store, err)
			}
			ch.HasOld = true
			ts = max(ts, oldTs)
		}
		ch.New, ch.HasNew = p.step(rec.Key, rec.Value, ch.Old, ch.HasOld), true
		if err := p.put(kb, ts, ch.New, start); err != nil {
			return err
		}
		if p.final || p.cached {
			return nil
		}
		return p.ctx.Forward(topology.Record[Windowed[K], Change[VA]]{
			Key: Windowed[K]{Key: rec.Key, Window: Window{start: start, end: end}}, Value: ch, Timestamp: msTime(ts), Headers: rec.Headers})
	})
}

// put writes agg, the new aggregate of kb's window at start, with
// timestamp ts.
func (p *windowAggregator[K, V, VA]) put(kb []byte, ts int64, agg VA, start int64) error {
	var err error
	if p.va != nil {
		b := state.AppendTimestamped(make([]byte, 0, state.TimestampSize+p.hint), ts, nil)
		if b, err = p.va.AppendSerialize(b, p.store, nil, agg); err != nil {
			return fmt.Errorf("serialize aggregate for store %s: %w", p.store, err)
		}
		// An empty encoding may stand for null, which Serialize tells.
		if n := len(b) - state.TimestampSize; n > 0 {
			p.hint = n
			if p.owned != nil {
				err = p.owned.PutOwned(kb, b, start)
			} else {
				err = p.ws.Put(kb, b, start)
			}
			if err != nil {
				return fmt.Errorf("put window %d of store %s: %w", start, p.store, err)
			}
			return nil
		}
	}
	nb, err := p.vs.Serialize(p.store, nil, agg)
	if err != nil {
		return fmt.Errorf("serialize aggregate for store %s: %w", p.store, err)
	}
	if err := p.ws.Put(kb, state.EncodeTimestamped(ts, nb), start); err != nil {
		return fmt.Errorf("put window %d of store %s: %w", start, p.store, err)
	}
	return nil
}

func (p *windowAggregator[K, V, VA]) Close() error { return nil }

// builderExt is what the Builder remembers for windows and suppression:
// the grace period of each windowed table, by node, so that
// Suppress(UntilWindowCloses) knows when a window closes.
type builderExt struct {
	grace map[string]time.Duration
}

func (e *builderExt) windowed(node string, grace time.Duration) {
	if e.grace == nil {
		e.grace = map[string]time.Duration{}
	}
	e.grace[node] = grace
}
