package stream

import (
	"fmt"
	"strconv"

	"github.com/kafki/kafki/serde"
	"github.com/kafki/kafki/topology"
)

func topologyInvalid(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{topology.ErrInvalid}, args...)...)
}

func itoa(i int) string { return strconv.Itoa(i) }

// KGroupedStream is a stream grouped by key, ready to aggregate.
type KGroupedStream[K, V any] struct {
	s    KStream[K, V]
	name string // Named on the grouping: the repartition topic's base
}

// GroupByKey groups by the current key. If the key may have changed
// (Map, SelectKey, FlatMap, Process upstream) the aggregation repartitions.
// Grouped sets the serdes and the name of the repartition topic.
func GroupByKey[K, V any](s KStream[K, V], grouped ...Grouped[K, V]) KGroupedStream[K, V] {
	o := collect(configs(grouped))
	s.keySerde = serdeOf(s.b, o.keySerde, s.keySerde, "GroupByKey", "key")
	s.valueSerde = serdeOf(s.b, o.valueSerde, s.valueSerde, "GroupByKey", "value")
	return KGroupedStream[K, V]{s: s, name: o.name}
}

// GroupBy groups by a new key, always repartitioning before aggregating.
func GroupBy[K, V, K2 any](s KStream[K, V], fn func(K, V) K2, grouped ...Grouped[K2, V]) KGroupedStream[K2, V] {
	o := collect(configs(grouped))
	name := s.b.newName("KSTREAM-KEY-SELECT-")
	addSelectKey(s.b, name, s.node, fn)
	out := KStream[K2, V]{b: s.b, node: name, repartition: true,
		keySerde:   serdeOf[K2](s.b, o.keySerde, nil, name, "key"),
		valueSerde: serdeOf(s.b, o.valueSerde, s.valueSerde, name, "value")}
	return KGroupedStream[K2, V]{s: out, name: o.name}
}

// Count counts the records per key (records with a null key or value are
// dropped, as in Kafka Streams).
func Count[K, V any](g KGroupedStream[K, V], materialized ...Materialized[K, int64]) KTable[K, int64] {
	return aggregate(g, "KSTREAM-AGGREGATE-", func() int64 { return 0 },
		func(_ K, _ V, agg int64) int64 { return agg + 1 }, serde.Int64(), configs(materialized))
}

// Reduce combines the values per key; the first value is the initial one.
func Reduce[K, V any](g KGroupedStream[K, V], fn func(agg, v V) V, materialized ...Materialized[K, V]) KTable[K, V] {
	return aggregateWith(g, "KSTREAM-REDUCE-", g.s.valueSerde, configs(materialized), reduceStep[K](fn))
}

// Aggregate folds the values per key into an aggregate of type VA, starting
// from init(). The aggregate's serde comes from Materialized or the
// builder's defaults.
func Aggregate[K, V, VA any](g KGroupedStream[K, V], init func() VA, fn func(K, V, VA) VA, materialized ...Materialized[K, VA]) KTable[K, VA] {
	return aggregate(g, "KSTREAM-AGGREGATE-", init, fn, nil, configs(materialized))
}

func aggregate[K, V, VA any](g KGroupedStream[K, V], prefix string, init func() VA, fn func(K, V, VA) VA, def serde.Serde[VA], opts []option) KTable[K, VA] {
	return aggregateWith(g, prefix, def, opts, aggregateStep(init, fn))
}

// The steps of count, reduce and aggregate, shared by every grouping and
// windowing: each folds one value into an aggregate that a key (or key
// and window) had (had) or not yet.

func countStep[K, V any](_ K, _ V, agg int64, _ bool) int64 { return agg + 1 }

func reduceStep[K, V any](fn func(agg, v V) V) func(K, V, V, bool) V {
	return func(_ K, v V, agg V, had bool) V {
		if !had {
			return v
		}
		return fn(agg, v)
	}
}

func aggregateStep[K, V, VA any](init func() VA, fn func(K, V, VA) VA) func(K, V, VA, bool) VA {
	return func(k K, v V, agg VA, had bool) VA {
		if !had {
			agg = init()
		}
		return fn(k, v, agg)
	}
}

// aggregateWith adds the store, the repartition topic if needed and the
// aggregate processor, with Kafka Streams' naming order.
func aggregateWith[K, V, VA any](g KGroupedStream[K, V], prefix string, def serde.Serde[VA], opts []option, step func(K, V, VA, bool) VA) KTable[K, VA] {
	b, s := g.s.b, g.s
	o := collect(opts)
	store := o.storeName
	if store == "" {
		store = b.newName(prefix + "STATE-STORE-")
	}
	name := b.nameOr(o, prefix)
	vas := serdeOf(b, o.valueSerde, def, name, "value")
	ks := serdeOf(b, o.keySerde, s.keySerde, name, "key")
	need(b, ks, name, "key", "store "+store)
	need(b, vas, name, "value", "store "+store)
	parent := s.node
	if s.repartition {
		base := g.name
		if base == "" {
			base = store
		}
		parent = repartitionThrough(b, parent, base, s.keySerde, s.valueSerde, 0, true)
	}
	spec := o.tableSpec(store)
	topology.AddProcessor(b.tb, name, func() topology.Processor[K, V, K, Change[VA]] {
		return &streamAggregate[K, V, VA]{emit: tableEmitter[K, VA]{store: store, caching: spec.Caching, ks: ks, vs: vas}, step: step}
	}, parent)
	b.tb.AddStateStore(spec, name)
	return KTable[K, VA]{b: b, node: name, store: store, keySerde: ks, valueSerde: vas}
}

type streamAggregate[K, V, VA any] struct {
	emit tableEmitter[K, VA]
	step func(K, V, VA, bool) VA
}

func (p *streamAggregate[K, V, VA]) Init(ctx topology.ProcessorContext[K, Change[VA]]) error {
	return p.emit.init(ctx)
}

func (p *streamAggregate[K, V, VA]) Process(rec topology.Record[K, V]) error {
	if rec.NullKey || rec.NullValue {
		p.emit.ctx.RecordDropped("null-key-or-value")
		return nil
	}
	kb, err := p.emit.kv.keyScratch(rec.Key)
	if err != nil {
		return err
	}
	old, oldTs, had, err := p.emit.kv.getWithTime(kb)
	if err != nil {
		return err
	}
	agg := p.step(rec.Key, rec.Value, old, had)
	// As Kafka Streams: the aggregate carries the latest timestamp of the
	// records folded into it.
	ts := ms(rec.Timestamp)
	if had {
		ts = max(ts, oldTs)
	}
	return p.emit.write(kb, topology.Record[K, Change[VA]]{Key: rec.Key, Timestamp: msTime(ts), Headers: rec.Headers,
		Value: Change[VA]{New: agg, HasNew: true, Old: old, HasOld: had}})
}

func (p *streamAggregate[K, V, VA]) Close() error { return nil }
