package stream

import (
	"fmt"

	"github.com/kafki/kafki/serde"
	"github.com/kafki/kafki/topology"
)

// JoinTables joins two tables on their keys: the result has a row for
// every key both tables have, joiner(left, right), updated when either side
// changes; when a side deletes its row the result row is deleted
// (a tombstone is forwarded). Both tables must be materialised and
// co-partitioned. A Materialized with a store name materialises the
// result.
func JoinTables[K, V1, V2, VR any](l KTable[K, V1], r KTable[K, V2], joiner func(V1, V2) VR, materialized ...Materialized[K, VR]) KTable[K, VR] {
	var fn joinFn[V1, V2, VR]
	if joiner != nil {
		fn = func(a V1, _ bool, b V2, _ bool) VR { return joiner(a, b) }
	}
	return tableTableJoin(l, r, innerJoin, fn, configs(materialized))
}

// LeftJoinTables has a row for every key of the left table:
// joiner(left, right) or joiner(left, nil) when the right table has none.
func LeftJoinTables[K, V1, V2, VR any](l KTable[K, V1], r KTable[K, V2], joiner func(V1, *V2) VR, materialized ...Materialized[K, VR]) KTable[K, VR] {
	var fn joinFn[V1, V2, VR]
	if joiner != nil {
		fn = func(a V1, _ bool, b V2, hasB bool) VR {
			if !hasB {
				return joiner(a, nil)
			}
			return joiner(a, &b)
		}
	}
	return tableTableJoin(l, r, leftJoin, fn, configs(materialized))
}

// OuterJoinTables has a row for every key of either table, with nil for
// the side that has none.
func OuterJoinTables[K, V1, V2, VR any](l KTable[K, V1], r KTable[K, V2], joiner func(*V1, *V2) VR, materialized ...Materialized[K, VR]) KTable[K, VR] {
	var fn joinFn[V1, V2, VR]
	if joiner != nil {
		fn = func(a V1, hasA bool, b V2, hasB bool) VR {
			switch {
			case !hasA:
				return joiner(nil, &b)
			case !hasB:
				return joiner(&a, nil)
			}
			return joiner(&a, &b)
		}
	}
	return tableTableJoin(l, r, outerJoin, fn, configs(materialized))
}

func tableTableJoin[K, V1, V2, VR any](l KTable[K, V1], r KTable[K, V2], kind joinKind, fn joinFn[V1, V2, VR], opts []option) KTable[K, VR] {
	b := l.b
	o := collect(opts)
	prefix := map[joinKind]string{innerJoin: "KTABLE-JOINTHIS-", leftJoin: "KTABLE-LEFTTHIS-", outerJoin: "KTABLE-OUTERTHIS-"}[kind]
	this := b.newName(prefix)
	other := b.newName(map[joinKind]string{innerJoin: "KTABLE-JOINOTHER-", leftJoin: "KTABLE-LEFTOTHER-", outerJoin: "KTABLE-OUTEROTHER-"}[kind])
	name := b.nameOr(o, "KTABLE-MERGE-")
	if fn == nil {
		b.problem(topologyInvalid("%q: nil joiner", name))
	}
	for _, t := range []struct{ node, store string }{{l.node, l.store}, {r.node, r.store}} {
		if t.store == "" {
			b.problem(topologyInvalid("%q: the table %q is not materialised; give it a stream.MaterializedAs store name", name, t.node))
		}
	}
	need(b, l.keySerde, name, "key", "table lookups")
	need(b, l.valueSerde, name, "value", "lookups in "+l.store)
	need(b, r.valueSerde, name, "value", "lookups in "+r.store)
	ls, rs, ks, v1s, v2s := l.store, r.store, l.keySerde, l.valueSerde, r.valueSerde
	topology.AddProcessor(b.tb, this, func() topology.Processor[K, Change[V1], K, Change[VR]] {
		return &tableJoinSide[K, V1, V2, VR]{other: rs, ks: ks, vs: v2s, kind: kind, fn: fn}
	}, l.node)
	// The right side sees the join mirrored: for it, a left join needs a
	// left row, as an inner join does, and emits whatever its own side has.
	rkind := kind
	if kind == leftJoin {
		rkind = rightOfLeftJoin
	}
	topology.AddProcessor(b.tb, other, func() topology.Processor[K, Change[V2], K, Change[VR]] {
		return &tableJoinSide[K, V2, V1, VR]{other: ls, ks: ks, vs: v1s, kind: rkind,
			fn: func(mine V2, hasMine bool, theirs V1, hasTheirs bool) VR { return fn(theirs, hasTheirs, mine, hasMine) }}
	}, r.node)
	b.tb.ConnectProcessorAndStateStores([]string{this}, rs)
	b.tb.ConnectProcessorAndStateStores([]string{other}, ls)
	b.tb.AddCoPartitionGroup(this, other)
	vs := serdeOf[VR](b, o.valueSerde, nil, name, "value")
	out := KTable[K, VR]{b: b, node: name, store: o.storeName, keySerde: ks, valueSerde: vs}
	if o.storeName == "" {
		topology.AddProcessor(b.tb, name, func() topology.Processor[K, Change[VR], K, Change[VR]] {
			return &fnProc[K, Change[VR], K, Change[VR]]{fn: func(ctx topology.ProcessorContext[K, Change[VR]], rec topology.Record[K, Change[VR]]) error {
				return ctx.Forward(rec)
			}}
		}, this, other)
		return out
	}
	need(b, vs, name, "value", "store "+o.storeName)
	spec := o.tableSpec(o.storeName)
	topology.AddProcessor(b.tb, name, func() topology.Processor[K, Change[VR], K, Change[VR]] {
		return &materializedMap[K, VR, VR]{emit: tableEmitter[K, VR]{store: o.storeName, caching: spec.Caching, ks: ks, vs: vs},
			fn: func(_ K, c Change[VR]) (Change[VR], bool) { return c, true }}
	}, this, other)
	b.tb.AddStateStore(spec, name)
	return out
}

// rightOfLeftJoin is the right side of a left join: it emits only where
// the left table has a row, and always with a new value (the left row
// joined with whatever the right side now has).
const rightOfLeftJoin joinKind = 100

// tableJoinSide handles the updates of one side of a table-table join,
// looking up the other side's store. fn takes this side first.
type tableJoinSide[K, V, VO, VR any] struct {
	other string
	ks    serde.Serde[K]
	vs    serde.Serde[VO]
	kind  joinKind
	fn    joinFn[V, VO, VR]
	ctx   topology.ProcessorContext[K, Change[VR]]
	kv    kvStore[K, VO]
}

func (p *tableJoinSide[K, V, VO, VR]) Init(ctx topology.ProcessorContext[K, Change[VR]]) error {
	p.ctx = ctx
	kv, err := openTableKV(ctx, p.other, p.ks, p.vs)
	p.kv = kv
	return err
}

func (p *tableJoinSide[K, V, VO, VR]) Process(rec topology.Record[K, Change[V]]) error {
	if rec.NullKey {
		p.ctx.RecordDropped("null-key")
		return nil
	}
	kb, err := p.kv.keyBytes(rec.Key)
	if err != nil {
		return fmt.Errorf("serialize key for lookup in %s: %w", p.other, err)
	}
	theirs, theirTs, has, err := p.kv.getWithTime(kb)
	if err != nil {
		return fmt.Errorf("look up in %s: %w", p.other, err)
	}
	c := rec.Value
	var out Change[VR]
	switch p.kind {
	case innerJoin:
		if !has {
			return nil
		}
		out.HasNew, out.HasOld = c.HasNew, c.HasOld
	case leftJoin:
		out.HasNew, out.HasOld = c.HasNew, c.HasOld
	case rightOfLeftJoin:
		if !has {
			return nil
		}
		out.HasNew, out.HasOld = true, true
	case outerJoin:
		out.HasNew, out.HasOld = c.HasNew || has, c.HasOld || has
	}
	if !out.HasNew && !out.HasOld && !has {
		// A delete of a row this side never had, with no row on the other
		// side: nothing to say. With a row on the other side, Kafka Streams
		// forwards the delete as a tombstone (KTableKTableInnerJoin and
		// LeftJoin forward Change(null, null)), and so does this.
		return nil
	}
	if out.HasNew {
		out.New = p.fn(c.New, c.HasNew, theirs, has)
	}
	if out.HasOld {
		out.Old = p.fn(c.Old, c.HasOld, theirs, has)
	}
	// As Kafka Streams: the result is as recent as the newer of the two
	// rows it joins (tombstones included).
	ts := rec.Timestamp
	if has && theirTs > ms(ts) {
		ts = msTime(theirTs)
	}
	return p.ctx.Forward(topology.Record[K, Change[VR]]{Key: rec.Key, Value: out, Timestamp: ts, Headers: rec.Headers})
}

func (p *tableJoinSide[K, V, VO, VR]) Close() error { return nil }
