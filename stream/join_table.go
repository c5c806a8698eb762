package stream

import (
	"fmt"

	"github.com/kafki/kafki/serde"
	"github.com/kafki/kafki/topology"
)

// JoinTable joins each stream record with the table's current value for
// its key: joiner(value, row), with the stream record's timestamp. Stream
// records whose key has no row are dropped; table updates emit nothing.
// The table must be materialised (Table and aggregations are; use
// MaterializedAs on table operators). The stream is repartitioned if its key
// may have changed, and must be co-partitioned with the table's topic.
func JoinTable[K, V, VT, VR any](s KStream[K, V], t KTable[K, VT], joiner func(V, VT) VR, joined ...Joined[K, V]) KStream[K, VR] {
	var fn joinFn[V, VT, VR]
	if joiner != nil {
		fn = func(v V, _ bool, r VT, _ bool) VR { return joiner(v, r) }
	}
	return streamTableJoin(s, t, innerJoin, fn, configs(joined))
}

// LeftJoinTable is JoinTable that also emits joiner(value, nil) for stream
// records whose key has no row (and for records with a null key).
func LeftJoinTable[K, V, VT, VR any](s KStream[K, V], t KTable[K, VT], joiner func(V, *VT) VR, joined ...Joined[K, V]) KStream[K, VR] {
	var fn joinFn[V, VT, VR]
	if joiner != nil {
		fn = func(v V, _ bool, r VT, hasR bool) VR {
			if !hasR {
				return joiner(v, nil)
			}
			return joiner(v, &r)
		}
	}
	return streamTableJoin(s, t, leftJoin, fn, configs(joined))
}

func streamTableJoin[K, V, VT, VR any](s KStream[K, V], t KTable[K, VT], kind joinKind, fn joinFn[V, VT, VR], opts []option) KStream[K, VR] {
	b := s.b
	o := collect(opts)
	name := b.nameOr(o, "KSTREAM-JOIN-")
	if fn == nil {
		b.problem(topologyInvalid("%q: nil joiner", name))
	}
	if t.store == "" {
		b.problem(topologyInvalid("%q: the table %q is not materialised; give it a stream.MaterializedAs store name", name, t.node))
	}
	need(b, t.keySerde, name, "key", "table lookups in "+t.store)
	need(b, t.valueSerde, name, "value", "table lookups in "+t.store)
	parent := s.node
	if s.repartition {
		base := name + "-left"
		if o.name == "" {
			base = b.newName("KSTREAM-JOIN-LEFT-")
		}
		parent = repartitionThrough(b, s.node, base, serdeOf(b, o.keySerde, s.keySerde, name, "key"),
			serdeOf(b, o.valueSerde, s.valueSerde, name, "value"), 0, true)
	}
	store, ks, vs := t.store, t.keySerde, t.valueSerde
	topology.AddProcessor(b.tb, name, func() topology.Processor[K, V, K, VR] {
		return &tableLookupJoin[K, V, K, VT, VR]{store: store, ks: ks, vs: vs, kind: kind, fn: fn, timestamped: true,
			key: func(k K, _ V) K { return k }}
	}, parent)
	b.tb.ConnectProcessorAndStateStores([]string{name}, store)
	b.tb.AddCoPartitionGroup(name, t.node)
	return KStream[K, VR]{b: b, node: name, keySerde: s.keySerde, valueSerde: defaultSerde[VR](b)}
}

// JoinGlobal joins each stream record with the row of a GlobalKTable
// whose key keyMapper derives from the record. As the global table is
// complete on every instance, nothing is repartitioned or co-partitioned.
func JoinGlobal[K, V, KG, VG, VR any](s KStream[K, V], g GlobalKTable[KG, VG], keyMapper func(K, V) KG, joiner func(V, VG) VR, named ...Named) KStream[K, VR] {
	var fn joinFn[V, VG, VR]
	if joiner != nil {
		fn = func(v V, _ bool, r VG, _ bool) VR { return joiner(v, r) }
	}
	return globalJoin(s, g, keyMapper, innerJoin, fn, nameOpts(named))
}

// LeftJoinGlobal is JoinGlobal that emits joiner(value, nil) when the
// global table has no row for the mapped key.
func LeftJoinGlobal[K, V, KG, VG, VR any](s KStream[K, V], g GlobalKTable[KG, VG], keyMapper func(K, V) KG, joiner func(V, *VG) VR, named ...Named) KStream[K, VR] {
	var fn joinFn[V, VG, VR]
	if joiner != nil {
		fn = func(v V, _ bool, r VG, hasR bool) VR {
			if !hasR {
				return joiner(v, nil)
			}
			return joiner(v, &r)
		}
	}
	return globalJoin(s, g, keyMapper, leftJoin, fn, nameOpts(named))
}

func globalJoin[K, V, KG, VG, VR any](s KStream[K, V], g GlobalKTable[KG, VG], keyMapper func(K, V) KG, kind joinKind, fn joinFn[V, VG, VR], opts []option) KStream[K, VR] {
	b := s.b
	o := collect(opts)
	name := b.nameOr(o, "KSTREAM-JOIN-")
	if fn == nil || keyMapper == nil {
		b.problem(topologyInvalid("%q: nil joiner or key mapper", name))
	}
	store, ks, vs := g.store, g.keySerde, g.valueSerde
	topology.AddProcessor(b.tb, name, func() topology.Processor[K, V, K, VR] {
		return &tableLookupJoin[K, V, KG, VG, VR]{store: store, ks: ks, vs: vs, kind: kind, fn: fn, key: keyMapper}
	}, s.node)
	b.tb.ConnectProcessorAndStateStores([]string{name}, store)
	return KStream[K, VR]{b: b, node: name, keySerde: s.keySerde, repartition: s.repartition,
		valueSerde: defaultSerde[VR](b)}
}

// tableLookupJoin joins stream records with rows looked up in a
// key-value store, by the record's key or a key derived from it.
type tableLookupJoin[K, V, KT, VT, VR any] struct {
	store string
	ks    serde.Serde[KT]
	vs    serde.Serde[VT]
	kind  joinKind
	fn    joinFn[V, VT, VR]
	key   func(K, V) KT
	ctx   topology.ProcessorContext[K, VR]
	kv    kvStore[KT, VT]
	// timestamped: a KTable's store; a global table's holds the topic's
	// bytes.
	timestamped bool
}

func (p *tableLookupJoin[K, V, KT, VT, VR]) Init(ctx topology.ProcessorContext[K, VR]) error {
	p.ctx = ctx
	kv, err := openKV(ctx, p.store, p.ks, p.vs)
	kv.timestamped = p.timestamped
	p.kv = kv
	return err
}

func (p *tableLookupJoin[K, V, KT, VT, VR]) Process(rec topology.Record[K, V]) error {
	if rec.NullValue || (rec.NullKey && p.kind == innerJoin) {
		p.ctx.RecordDropped("null-key-or-value")
		return nil
	}
	var row VT
	var has bool
	if !rec.NullKey {
		kb, err := p.kv.keyBytes(p.key(rec.Key, rec.Value))
		if err != nil {
			return fmt.Errorf("serialize key for lookup in %s: %w", p.store, err)
		}
		if row, has, err = p.kv.get(kb); err != nil {
			return fmt.Errorf("look up in %s: %w", p.store, err)
		}
	}
	if !has && p.kind == innerJoin {
		return nil
	}
	return p.ctx.Forward(topology.Record[K, VR]{Key: rec.Key, NullKey: rec.NullKey, Value: p.fn(rec.Value, true, row, has),
		Timestamp: rec.Timestamp, Headers: rec.Headers})
}

func (p *tableLookupJoin[K, V, KT, VT, VR]) Close() error { return nil }
