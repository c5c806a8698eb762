package stream

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/kafki/kafki/serde"
	"github.com/kafki/kafki/state"
	"github.com/kafki/kafki/topology"
)

// SessionWindowedKStream is a grouped stream cut into session windows.
type SessionWindowedKStream[K, V any] struct {
	g    KGroupedStream[K, V]
	w    SessionWindows
	emit Emit
}

// EmitStrategy sets when the aggregation forwards its results (Kafka
// Streams' SessionWindowedKStream.emitStrategy); the default is
// OnWindowUpdate.
func (ws SessionWindowedKStream[K, V]) EmitStrategy(e Emit) SessionWindowedKStream[K, V] {
	ws.emit = e
	return ws
}

// SessionWindowedBy cuts a grouped stream into session windows.
func SessionWindowedBy[K, V any](g KGroupedStream[K, V], w SessionWindows) SessionWindowedKStream[K, V] {
	return SessionWindowedKStream[K, V]{g: g, w: w}
}

// CountSessions counts the records per key and session. When a record
// merges sessions, the merged-away sessions are deleted downstream
// (forwarded as tombstones) before the merged session is forwarded. The
// key serde of the result is SessionWindowedSerde(key serde).
func CountSessions[K, V any](ws SessionWindowedKStream[K, V], materialized ...Materialized[K, int64]) KTable[Windowed[K], int64] {
	return sessionAggregate(ws, "KSTREAM-AGGREGATE-", serde.Int64(), emitOpts(configs(materialized), ws.emit), func() int64 { return 0 },
		func(_ K, _ V, agg int64) int64 { return agg + 1 },
		func(_ K, a, b int64) int64 { return a + b })
}

// ReduceSessions combines the values per key and session; merging two
// sessions combines their aggregates with fn too.
func ReduceSessions[K, V any](ws SessionWindowedKStream[K, V], fn func(agg, v V) V, materialized ...Materialized[K, V]) KTable[Windowed[K], V] {
	return sessionAggregateWith(ws, "KSTREAM-REDUCE-", ws.g.s.valueSerde, emitOpts(configs(materialized), ws.emit), nil,
		reduceStep[K](fn),
		func(_ K, a, b V) V { return fn(a, b) })
}

// AggregateSessions folds the values per key and session into an aggregate
// starting from init(); merger combines the aggregates of two sessions a
// record bridges. Materialized (or the builder's defaults) gives the
// aggregate's serde.
func AggregateSessions[K, V, VA any](ws SessionWindowedKStream[K, V], init func() VA, fn func(K, V, VA) VA, merger func(K, VA, VA) VA, materialized ...Materialized[K, VA]) KTable[Windowed[K], VA] {
	return sessionAggregate(ws, "KSTREAM-AGGREGATE-", nil, emitOpts(configs(materialized), ws.emit), init, fn, merger)
}

func sessionAggregate[K, V, VA any](ws SessionWindowedKStream[K, V], prefix string, def serde.Serde[VA], opts []option,
	init func() VA, fn func(K, V, VA) VA, merger func(K, VA, VA) VA) KTable[Windowed[K], VA] {
	if init == nil || fn == nil {
		ws.g.s.b.problem(topologyInvalid("session aggregation needs an initializer and an aggregator"))
		return KTable[Windowed[K], VA]{b: ws.g.s.b}
	}
	return sessionAggregateWith(ws, prefix, def, opts, init,
		func(k K, v V, agg VA, _ bool) VA { return fn(k, v, agg) }, merger)
}

// sessionAggregateWith builds the aggregation; a nil init means reduce:
// the first value starts the aggregate (fn is told whether it had one).
func sessionAggregateWith[K, V, VA any](ws SessionWindowedKStream[K, V], prefix string, def serde.Serde[VA], opts []option,
	init func() VA, fn func(K, V, VA, bool) VA, merger func(K, VA, VA) VA) KTable[Windowed[K], VA] {
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
	if merger == nil {
		b.problem(topologyInvalid("%q: session aggregation needs a merger", name))
	}
	vas := serdeOf(b, o.valueSerde, def, name, "value")
	ks := serdeOf(b, o.keySerde, g.s.keySerde, name, "key")
	need(b, ks, name, "key", "store "+store)
	need(b, vas, name, "value", "store "+store)
	parent := groupedParent(g, store)
	spec := o.spec(store)
	spec.Kind = state.KindSession
	spec.Retention = windowRetention(b, o, name, ws.w.Gap+ws.w.Grace)
	w := ws.w
	final := o.ext.emit == OnWindowClose
	if final {
		// Emitting closed sessions lists them by end time across keys: a
		// time-ordered store, as Kafka Streams uses for it, and no cache
		// (as Kafka Streams: only emitted results leave the operator).
		spec.TimeOrdered = true
		spec.Caching = false
		// A session ending at close time c is emitted once the close time
		// passes c, when the store (retaining what ends after its stream
		// time minus retention) may have seen stream time c+gap+grace: one
		// more millisecond keeps it until then.
		spec.Retention = max(spec.Retention, w.Gap+w.Grace+time.Millisecond)
	}
	topology.AddProcessor(b.tb, name, func() topology.Processor[K, V, Windowed[K], Change[VA]] {
		return &sessionAggregator[K, V, VA]{store: store, w: w, ks: ks, vs: vas, init: init, fn: fn, merger: merger, final: final}
	}, parent)
	b.tb.AddStateStore(spec, name)
	var wks serde.Serde[Windowed[K]]
	if ks != nil {
		wks = SessionWindowedSerde(ks)
	}
	// A session stays open to records within the gap of its end, so a
	// final result waits gap plus grace (as Kafka Streams' suppression).
	b.ext.windowed(name, w.Gap+w.Grace)
	return KTable[Windowed[K], VA]{b: b, node: name, store: store, keySerde: wks, valueSerde: vas}
}

type sessionAggregator[K, V, VA any] struct {
	store  string
	w      SessionWindows
	ks     serde.Serde[K]
	vs     serde.Serde[VA]
	init   func() VA
	fn     func(K, V, VA, bool) VA
	merger func(K, VA, VA) VA
	ctx    topology.ProcessorContext[Windowed[K], Change[VA]]
	ss     state.SessionStore
	time   streamTime
	cached bool // the store's record cache forwards the updates
	final  bool // OnWindowClose
	closed sessionEmitter
}

func (p *sessionAggregator[K, V, VA]) Init(ctx topology.ProcessorContext[Windowed[K], Change[VA]]) error {
	p.ctx = ctx
	p.time = resumeStreamTime(ctx)
	s, err := ctx.StateStore(p.store)
	if err != nil {
		return err
	}
	ss, ok := s.(state.SessionStore)
	if !ok {
		return fmt.Errorf("stream: store %q is a %T, not a session store", p.store, s)
	}
	p.ss = ss
	if p.final {
		byEnd, ok := s.(state.TimeOrderedSessionStore)
		if !ok {
			return fmt.Errorf("stream: store %q is a %T, not a time-ordered session store (EmitStrategy(OnWindowClose) lists sessions by end time)", p.store, s)
		}
		p.closed = newSessionEmitter(byEnd, newEmitMark(ctx, p.store), p.time.t, p.w.Grace.Milliseconds()+p.w.Gap.Milliseconds())
		return nil
	}
	p.cached = forwardSessionFlushes(ctx, ss, p.store, p.ks, p.vs)
	return nil
}

type session[VA any] struct {
	start, end int64
	agg        VA
}

func (p *sessionAggregator[K, V, VA]) Process(rec topology.Record[K, V]) error {
	if rec.NullKey || rec.NullValue {
		p.ctx.RecordDropped("null-key-or-value")
		return nil
	}
	kb, err := p.ks.Serialize(p.store, nil, rec.Key)
	if err != nil {
		return fmt.Errorf("serialize key for store %s: %w", p.store, err)
	}
	ts := ms(rec.Timestamp)
	gap := p.w.Gap.Milliseconds()
	// A session stays open to records within the gap of its end, so it
	// closes gap plus grace after it (Kafka Streams 3.3+).
	closeTime := p.time.observe(ts) - p.w.Grace.Milliseconds() - gap
	earliestEnd := ts - gap
	if p.final && p.closed.last >= 0 {
		// An emitted session is final: a record never merges into it,
		// even while the store still holds it (restored from disk, or
		// within a segment); the record is late or starts a new session.
		earliestEnd = max(earliestEnd, p.closed.last)
	}
	merged, err := p.overlapping(kb, earliestEnd, ts+gap)
	if err != nil {
		return err
	}
	start, end := ts, ts
	var agg VA
	has := p.init != nil
	if has {
		agg = p.init()
	}
	for _, s := range merged {
		start, end = min(start, s.start), max(end, s.end)
		if has {
			agg = p.merger(rec.Key, agg, s.agg)
		} else {
			agg, has = s.agg, true
		}
	}
	if end < closeTime {
		dropLate(p.ctx, ts, end, closeTime)
		return p.emitClosed(closeTime, rec.Headers, nil, nil)
	}
	// As Kafka Streams: unless the record only updates a session [t,t]
	// of its own, every session it lands in is removed and deleted
	// downstream, even one whose bounds do not change.
	var removed []session[VA]
	if start != ts || end != ts {
		removed = merged
	}
	if p.final {
		// Kafka Streams writes the record, then emits what closed. Closed
		// sessions are emitted first here, as the write may expire them
		// from the store, leaving out those the write removes: the
		// output is the same.
		if err := p.emitClosed(closeTime, rec.Headers, kb, removed); err != nil {
			return err
		}
	}
	agg = p.fn(rec.Key, rec.Value, agg, has)
	for _, s := range removed {
		if err := p.ss.Remove(kb, s.start, s.end); err != nil {
			return fmt.Errorf("remove session of store %s: %w", p.store, err)
		}
		if p.final || p.cached {
			continue
		}
		if err := p.ctx.Forward(topology.Record[Windowed[K], Change[VA]]{Key: Windowed[K]{Key: rec.Key, Window: Window{start: s.start, end: s.end}},
			Value: Change[VA]{Old: s.agg, HasOld: true}, Timestamp: msTime(s.end), Headers: rec.Headers}); err != nil {
			return err
		}
	}
	vb, err := p.vs.Serialize(p.store, nil, agg)
	if err != nil {
		return fmt.Errorf("serialize aggregate for store %s: %w", p.store, err)
	}
	if err := p.ss.Put(kb, start, end, vb); err != nil {
		return fmt.Errorf("put session of store %s: %w", p.store, err)
	}
	if p.final || p.cached {
		return nil
	}
	return p.ctx.Forward(topology.Record[Windowed[K], Change[VA]]{Key: Windowed[K]{Key: rec.Key, Window: Window{start: start, end: end}},
		Value: Change[VA]{New: agg, HasNew: true}, Timestamp: msTime(end), Headers: rec.Headers})
}

// emitClosed forwards, for OnWindowClose, the sessions that closed since
// the last emission (as Kafka Streams' KStreamSessionWindowAggregate),
// each with its end as timestamp and the headers of the record that
// closed it, except the sessions of key kb in skip (about to be merged
// away by the record).
func (p *sessionAggregator[K, V, VA]) emitClosed(closeTime int64, headers []serde.Header, kb []byte, skip []session[VA]) error {
	if !p.final {
		return nil
	}
	var out []topology.Record[Windowed[K], Change[VA]]
	err := p.closed.closedSince(closeTime, func(key []byte, start, end int64, vb []byte) error {
		if len(skip) > 0 && bytes.Equal(key, kb) && slices.ContainsFunc(skip, func(s session[VA]) bool { return s.start == start && s.end == end }) {
			return nil
		}
		k, err := p.ks.Deserialize(p.store, nil, key)
		if err != nil {
			return fmt.Errorf("deserialize key of store %s: %w", p.store, err)
		}
		v, err := p.vs.Deserialize(p.store, nil, vb)
		if err != nil {
			return fmt.Errorf("deserialize aggregate of store %s: %w", p.store, err)
		}
		out = append(out, topology.Record[Windowed[K], Change[VA]]{Key: Windowed[K]{Key: k, Window: Window{start: start, end: end}},
			Value: Change[VA]{New: v, HasNew: true}, Timestamp: msTime(end), Headers: headers})
		return nil
	})
	if err != nil {
		return fmt.Errorf("emit closed sessions of store %s: %w", p.store, err)
	}
	for _, r := range out {
		if err := p.ctx.Forward(r); err != nil {
			return err
		}
	}
	return nil
}

// sessionEmitter remembers up to which close time the sessions of a
// time-ordered store were emitted (Kafka Streams' lastEmitWindowCloseTime:
// a session is closed once its end is below the close time, stream time
// minus grace minus gap), in the task's processor metadata as well, so
// that it survives restarts.
type sessionEmitter struct {
	store state.TimeOrderedSessionStore
	last  int64 // -1: nothing emitted yet
	mark  emitMark
}

// newSessionEmitter starts from the close time kept in the processor
// metadata or else from that of the resumed stream time: the sessions
// that closed before a restart were emitted before it.
func newSessionEmitter(store state.TimeOrderedSessionStore, mark emitMark, resumed, graceAndGap int64) sessionEmitter {
	e := sessionEmitter{store: store, last: -1, mark: mark}
	if v, ok := mark.load(); ok {
		e.last = v
	} else if resumed >= 0 && resumed-graceAndGap > 0 {
		e.last = resumed - graceAndGap
	}
	// Kept from the start: a restart before the first emission must not
	// take the resumed stream time's close time instead.
	mark.store(e.last)
	return e
}

// closedSince calls fn, in end, start, key order, for the sessions that
// end in [last, closeTime) and moves last to closeTime. Session bounds are
// inclusive: a session [s, e] is closed once e < closeTime.
func (e *sessionEmitter) closedSince(closeTime int64, fn func(key []byte, start, end int64, value []byte) error) error {
	if e.last >= 0 && e.last >= closeTime {
		return nil
	}
	upper := closeTime - 1
	lower := max(0, e.last)
	if upper < 0 || upper < lower {
		return nil
	}
	it, err := e.store.FindSessionsByEnd(lower, upper)
	if err != nil {
		return err
	}
	for it.Next() {
		if err := fn(it.Key(), it.Start(), it.End(), it.Value()); err != nil {
			it.Close()
			return err
		}
	}
	if err := errors.Join(it.Err(), it.Close()); err != nil {
		return err
	}
	e.last = closeTime
	e.mark.store(closeTime)
	return nil
}

// overlapping reads the sessions a record with the given reach merges.
func (p *sessionAggregator[K, V, VA]) overlapping(kb []byte, earliestEnd, latestStart int64) ([]session[VA], error) {
	it, err := p.ss.FindSessions(kb, earliestEnd, latestStart)
	if err != nil {
		return nil, fmt.Errorf("find sessions in store %s: %w", p.store, err)
	}
	defer it.Close()
	var out []session[VA]
	for it.Next() {
		v, err := p.vs.Deserialize(p.store, nil, it.Value())
		if err != nil {
			return nil, fmt.Errorf("deserialize aggregate of store %s: %w", p.store, err)
		}
		out = append(out, session[VA]{start: it.Start(), end: it.End(), agg: v})
	}
	if err := it.Err(); err != nil {
		return nil, fmt.Errorf("find sessions in store %s: %w", p.store, err)
	}
	return out, nil
}

func (p *sessionAggregator[K, V, VA]) Close() error { return nil }
