package stream

import "github.com/kafki/kafki/topology"

// The record-level variants of the stateless operators: their functions
// get the whole record, so that they can tell a null key or value
// (NullKey, NullValue) from a zero one, and can emit nulls. The plain
// operators pass Kafka's nulls to their functions as zero values, as Kafka
// Streams passes them as Java nulls; see NULLS.md.

// FilterRecord keeps the records for which keep returns true; keep sees
// the record's NullKey and NullValue, its timestamp and headers.
func (s KStream[K, V]) FilterRecord(keep func(topology.Record[K, V]) bool, named ...Named) KStream[K, V] {
	name := s.b.nameOr(collect(nameOpts(named)), "KSTREAM-FILTER-")
	addFn(s.b, name, s.node, func(ctx topology.ProcessorContext[K, V], rec topology.Record[K, V]) error {
		if keep(rec) {
			return ctx.Forward(rec)
		}
		return nil
	})
	return s.with(name)
}

// MapValuesRecord replaces each record's value with what fn returns, or
// with a null (a tombstone when written to a topic) when fn says null.
// The key, null or not, stays, so no repartitioning is needed.
func MapValuesRecord[K, V, V2 any](s KStream[K, V], fn func(rec topology.Record[K, V]) (value V2, null bool), named ...Named) KStream[K, V2] {
	o := collect(nameOpts(named))
	name := s.b.nameOr(o, "KSTREAM-MAPVALUES-")
	addFn(s.b, name, s.node, func(ctx topology.ProcessorContext[K, V2], rec topology.Record[K, V]) error {
		v, null := fn(rec)
		return ctx.Forward(topology.Record[K, V2]{Key: rec.Key, NullKey: rec.NullKey, Value: v, NullValue: null,
			Timestamp: rec.Timestamp, Headers: rec.Headers})
	})
	return KStream[K, V2]{b: s.b, node: name, repartition: s.repartition, keySerde: s.keySerde,
		valueSerde: serdeOf[V2](s.b, nil, nil, name, "value")}
}

// MapRecord replaces each record with the one fn returns: key, value,
// their null flags, timestamp and headers. The key may change, so a later
// stateful operator repartitions.
func MapRecord[K, V, K2, V2 any](s KStream[K, V], fn func(topology.Record[K, V]) topology.Record[K2, V2], named ...Named) KStream[K2, V2] {
	o := collect(nameOpts(named))
	name := s.b.nameOr(o, "KSTREAM-MAP-")
	addFn(s.b, name, s.node, func(ctx topology.ProcessorContext[K2, V2], rec topology.Record[K, V]) error {
		return ctx.Forward(fn(rec))
	})
	return KStream[K2, V2]{b: s.b, node: name, repartition: true,
		keySerde:   serdeOf[K2](s.b, nil, nil, name, "key"),
		valueSerde: serdeOf[V2](s.b, nil, nil, name, "value")}
}
