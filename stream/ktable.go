package stream

import (
	"github.com/kafki/kafki/serde"
	"github.com/kafki/kafki/topology"
)

// KTable is a changelog stream seen as a table: each key's latest value.
// Between its processors records carry Change[V] (new and old value), so
// that downstream aggregations can subtract what they added before.
type KTable[K, V any] struct {
	b          *Builder
	node       string
	store      string // "" when not materialised
	keySerde   serde.Serde[K]
	valueSerde serde.Serde[V]
}

// Name is the name of the node the table comes from.
func (t KTable[K, V]) Name() string { return t.node }

// StoreName is the store the table is materialised in, or "".
func (t KTable[K, V]) StoreName() string { return t.store }

// Filter keeps the rows for which keep returns true; a row that stops
// matching is deleted downstream (forwarded as a tombstone). A
// Materialized with a store name materialises the result.
func (t KTable[K, V]) Filter(keep func(K, V) bool, materialized ...Materialized[K, V]) KTable[K, V] {
	return t.filter("KTABLE-FILTER-", keep, configs(materialized))
}

// FilterNot drops the rows for which drop returns true.
func (t KTable[K, V]) FilterNot(drop func(K, V) bool, materialized ...Materialized[K, V]) KTable[K, V] {
	return t.filter("KTABLE-FILTER-", func(k K, v V) bool { return !drop(k, v) }, configs(materialized))
}

func (t KTable[K, V]) filter(prefix string, keep func(K, V) bool, opts []option) KTable[K, V] {
	return tableMap(t, prefix, t.valueSerde, opts, func(k K, c Change[V]) (Change[V], bool) {
		c.HasNew = c.HasNew && keep(k, c.New)
		c.HasOld = c.HasOld && keep(k, c.Old)
		return c, c.HasNew || c.HasOld
	})
}

// MapValuesTable maps each row's value. A Materialized with a store name
// materialises the result.
func MapValuesTable[K, V, V2 any](t KTable[K, V], fn func(V) V2, materialized ...Materialized[K, V2]) KTable[K, V2] {
	return tableMap(t, "KTABLE-MAPVALUES-", nil, configs(materialized), func(_ K, c Change[V]) (Change[V2], bool) {
		var out Change[V2]
		if out.HasNew = c.HasNew; c.HasNew {
			out.New = fn(c.New)
		}
		if out.HasOld = c.HasOld; c.HasOld {
			out.Old = fn(c.Old)
		}
		return out, true
	})
}

// tableMap adds a stateless table operator, materialised when a
// Materialized names a store. fn returns false to forward nothing.
func tableMap[K, V, V2 any](t KTable[K, V], prefix string, def serde.Serde[V2], opts []option, fn func(K, Change[V]) (Change[V2], bool)) KTable[K, V2] {
	b := t.b
	o := collect(opts)
	name := b.nameOr(o, prefix)
	vs := serdeOf(b, o.valueSerde, def, name, "value")
	out := KTable[K, V2]{b: b, node: name, store: o.storeName, keySerde: t.keySerde, valueSerde: vs}
	if o.storeName == "" {
		addFn(b, name, t.node, func(ctx topology.ProcessorContext[K, Change[V2]], rec topology.Record[K, Change[V]]) error {
			c, ok := fn(rec.Key, rec.Value)
			if !ok {
				return nil
			}
			return ctx.Forward(topology.Record[K, Change[V2]]{Key: rec.Key, Value: c, Timestamp: rec.Timestamp, Headers: rec.Headers})
		})
		return out
	}
	need(b, t.keySerde, name, "key", "store "+o.storeName)
	need(b, vs, name, "value", "store "+o.storeName)
	spec := o.tableSpec(o.storeName)
	topology.AddProcessor(b.tb, name, func() topology.Processor[K, Change[V], K, Change[V2]] {
		return &materializedMap[K, V, V2]{emit: tableEmitter[K, V2]{store: o.storeName, caching: spec.Caching, ks: t.keySerde, vs: vs}, fn: fn}
	}, t.node)
	b.tb.AddStateStore(spec, name)
	return out
}

type materializedMap[K, V, V2 any] struct {
	emit tableEmitter[K, V2]
	fn   func(K, Change[V]) (Change[V2], bool)
}

func (p *materializedMap[K, V, V2]) Init(ctx topology.ProcessorContext[K, Change[V2]]) error {
	return p.emit.init(ctx)
}

func (p *materializedMap[K, V, V2]) Process(rec topology.Record[K, Change[V]]) error {
	c, ok := p.fn(rec.Key, rec.Value)
	if !ok {
		return nil
	}
	kb, err := p.emit.kv.keyScratch(rec.Key)
	if err != nil {
		return err
	}
	// The store, not the upstream, knows what this table held.
	c.Old, c.HasOld, err = p.emit.kv.get(kb)
	if err != nil {
		return err
	}
	return p.emit.write(kb, topology.Record[K, Change[V2]]{Key: rec.Key, Value: c, Timestamp: rec.Timestamp, Headers: rec.Headers})
}

func (p *materializedMap[K, V, V2]) Close() error { return nil }

// ToStream turns the table's updates into a stream; a deleted row becomes
// a record with NullValue set (a tombstone when written to a topic).
func (t KTable[K, V]) ToStream(named ...Named) KStream[K, V] {
	name := t.b.nameOr(collect(nameOpts(named)), "KTABLE-TOSTREAM-")
	addFn(t.b, name, t.node, func(ctx topology.ProcessorContext[K, V], rec topology.Record[K, Change[V]]) error {
		return ctx.Forward(topology.Record[K, V]{Key: rec.Key, Value: rec.Value.New, NullValue: !rec.Value.HasNew,
			Timestamp: rec.Timestamp, Headers: rec.Headers})
	})
	return KStream[K, V]{b: t.b, node: name, keySerde: t.keySerde, valueSerde: t.valueSerde}
}

// KGroupedTable is a table re-grouped by a new key, ready to aggregate
// with an adder and a subtractor.
type KGroupedTable[K, V any] struct {
	b          *Builder
	node       string
	name       string
	keySerde   serde.Serde[K]
	valueSerde serde.Serde[V]
}

// GroupByTable re-groups a table by a new key and value. Every update is
// sent through a repartition topic as a subtraction of the old row (under
// its old new-key) and an addition of the new one. Grouped gives the
// serdes of the new key and value.
func GroupByTable[K, V, K2, V2 any](t KTable[K, V], fn func(K, V) (K2, V2), grouped ...Grouped[K2, V2]) KGroupedTable[K2, V2] {
	return GroupByTableOrDrop(t, func(k K, v V) (K2, V2, bool) {
		k2, v2 := fn(k, v)
		return k2, v2, true
	}, grouped...)
}

// GroupByTableOrDrop is GroupByTable with a mapper that may give no pair
// (ok false): that row then belongs to no group, as a row that Kafka
// Streams' mapper maps to a null key. Such rows are dropped and counted
// under "null-key"; a row that moves into or out of no group is only
// added or only subtracted.
func GroupByTableOrDrop[K, V, K2, V2 any](t KTable[K, V], fn func(K, V) (K2, V2, bool), grouped ...Grouped[K2, V2]) KGroupedTable[K2, V2] {
	b := t.b
	o := collect(configs(grouped))
	name := b.newName("KTABLE-SELECT-")
	addFn(b, name, t.node, func(ctx topology.ProcessorContext[K2, Change[V2]], rec topology.Record[K, Change[V]]) error {
		// Old first, as Kafka Streams does, so that an update that keeps
		// the key is subtracted before it is added.
		if rec.Value.HasOld {
			if k, v, ok := fn(rec.Key, rec.Value.Old); ok {
				if err := ctx.Forward(topology.Record[K2, Change[V2]]{Key: k, Value: Change[V2]{Old: v, HasOld: true}, Timestamp: rec.Timestamp, Headers: rec.Headers}); err != nil {
					return err
				}
			} else {
				ctx.RecordDropped("null-key")
			}
		}
		if rec.Value.HasNew {
			k, v, ok := fn(rec.Key, rec.Value.New)
			if !ok {
				ctx.RecordDropped("null-key")
				return nil
			}
			return ctx.Forward(topology.Record[K2, Change[V2]]{Key: k, Value: Change[V2]{New: v, HasNew: true}, Timestamp: rec.Timestamp, Headers: rec.Headers})
		}
		return nil
	})
	return KGroupedTable[K2, V2]{b: b, node: name, name: o.name,
		keySerde:   serdeOf[K2](b, o.keySerde, nil, name, "key"),
		valueSerde: serdeOf[V2](b, o.valueSerde, nil, name, "value")}
}

// CountTable counts the rows per new key.
func CountTable[K, V any](g KGroupedTable[K, V], materialized ...Materialized[K, int64]) KTable[K, int64] {
	return tableAggregate(g, "KTABLE-AGGREGATE-", serde.Int64(), configs(materialized),
		countStep[K, V],
		func(_ K, _ V, agg int64) int64 { return agg - 1 }, func() int64 { return 0 })
}

// ReduceTable combines the rows per new key with adder, and takes rows
// that left the group out with subtractor.
func ReduceTable[K, V any](g KGroupedTable[K, V], adder, subtractor func(agg, v V) V, materialized ...Materialized[K, V]) KTable[K, V] {
	return tableAggregate(g, "KTABLE-REDUCE-", g.valueSerde, configs(materialized),
		reduceStep[K](adder),
		func(_ K, v V, agg V) V { return subtractor(agg, v) }, nil)
}

// AggregateTable folds the rows per new key into an aggregate, starting
// from init(), with adder for rows that join the group and subtractor for
// rows that leave it. The aggregate's serde comes from Materialized or
// the builder's defaults.
func AggregateTable[K, V, VA any](g KGroupedTable[K, V], init func() VA, adder, subtractor func(K, V, VA) VA, materialized ...Materialized[K, VA]) KTable[K, VA] {
	return tableAggregate(g, "KTABLE-AGGREGATE-", nil, configs(materialized),
		func(k K, v V, agg VA, _ bool) VA { return adder(k, v, agg) }, subtractor, init)
}

func tableAggregate[K, V, VA any](g KGroupedTable[K, V], prefix string, def serde.Serde[VA], opts []option,
	add func(K, V, VA, bool) VA, sub func(K, V, VA) VA, init func() VA) KTable[K, VA] {
	b := g.b
	o := collect(opts)
	store := o.storeName
	if store == "" {
		store = b.newName(prefix + "STATE-STORE-")
	}
	name := b.nameOr(o, prefix)
	vas := serdeOf(b, o.valueSerde, def, name, "value")
	need(b, g.keySerde, name, "key", "store "+store)
	need(b, vas, name, "value", "store "+store)
	base := g.name
	if base == "" {
		base = store
	}
	var cs serde.Serde[Change[V]]
	if need(b, g.valueSerde, name, "value", "repartition topic "+base+"-repartition") {
		cs = changeSerde[V]{inner: g.valueSerde}
	}
	parent := repartitionThrough(b, g.node, base, g.keySerde, cs, 0, true)
	spec := o.tableSpec(store)
	topology.AddProcessor(b.tb, name, func() topology.Processor[K, Change[V], K, Change[VA]] {
		return &tableAggregator[K, V, VA]{emit: tableEmitter[K, VA]{store: store, caching: spec.Caching, ks: g.keySerde, vs: vas},
			add: add, sub: sub, init: init}
	}, parent)
	b.tb.AddStateStore(spec, name)
	return KTable[K, VA]{b: b, node: name, store: store, keySerde: g.keySerde, valueSerde: vas}
}

type tableAggregator[K, V, VA any] struct {
	emit tableEmitter[K, VA]
	add  func(K, V, VA, bool) VA
	sub  func(K, V, VA) VA
	init func() VA // nil for reduce: the first value starts the aggregate
}

func (p *tableAggregator[K, V, VA]) Init(ctx topology.ProcessorContext[K, Change[VA]]) error {
	return p.emit.init(ctx)
}

func (p *tableAggregator[K, V, VA]) Process(rec topology.Record[K, Change[V]]) error {
	if rec.NullKey {
		p.emit.ctx.RecordDropped("null-key")
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
	agg, has := old, had
	if !has && p.init != nil {
		agg, has = p.init(), true
	}
	if rec.Value.HasOld && has {
		agg = p.sub(rec.Key, rec.Value.Old, agg)
	}
	if rec.Value.HasNew {
		agg = p.add(rec.Key, rec.Value.New, agg, has)
		has = true
	}
	if !has {
		return nil
	}
	// As Kafka Streams' KTableAggregate: an aggregate that existed keeps
	// the latest timestamp of the updates folded into it.
	ts := rec.Timestamp
	if had && oldTs > ms(ts) {
		ts = msTime(oldTs)
	}
	return p.emit.write(kb, topology.Record[K, Change[VA]]{Key: rec.Key, Timestamp: ts, Headers: rec.Headers,
		Value: Change[VA]{New: agg, HasNew: true, Old: old, HasOld: had}})
}

func (p *tableAggregator[K, V, VA]) Close() error { return nil }
