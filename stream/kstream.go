package stream

import (
	"github.com/kafki/kafki/serde"
	"github.com/kafki/kafki/topology"
)

// KStream is a stream of records of key type K and value type V. It is a
// handle on a node of the topology being built; operators add nodes after
// it. Serdes travel with the stream while the types do not change.
type KStream[K, V any] struct {
	b          *Builder
	node       string
	keySerde   serde.Serde[K]
	valueSerde serde.Serde[V]
	// repartition marks a key that may have changed since the source: a
	// stateful operator downstream must repartition first.
	repartition bool
}

// KeyValue is a key and a value, as returned by FlatMap.
type KeyValue[K, V any] struct {
	Key   K
	Value V
}

// Pair makes a KeyValue.
func Pair[K, V any](k K, v V) KeyValue[K, V] { return KeyValue[K, V]{k, v} }

// Name is the name of the node the stream comes from.
func (s KStream[K, V]) Name() string { return s.node }

func (s KStream[K, V]) with(node string) KStream[K, V] {
	s.node = node
	return s
}

// Filter keeps the records for which keep returns true.
func (s KStream[K, V]) Filter(keep func(K, V) bool, named ...Named) KStream[K, V] {
	name := s.b.nameOr(collect(nameOpts(named)), "KSTREAM-FILTER-")
	addFn(s.b, name, s.node, func(ctx topology.ProcessorContext[K, V], rec topology.Record[K, V]) error {
		if keep(rec.Key, rec.Value) {
			return ctx.Forward(rec)
		}
		return nil
	})
	return s.with(name)
}

// FilterNot drops the records for which drop returns true.
func (s KStream[K, V]) FilterNot(drop func(K, V) bool, named ...Named) KStream[K, V] {
	return s.Filter(func(k K, v V) bool { return !drop(k, v) }, named...)
}

// Peek calls fn on each record and passes it on unchanged.
func (s KStream[K, V]) Peek(fn func(K, V), named ...Named) KStream[K, V] {
	name := s.b.nameOr(collect(nameOpts(named)), "KSTREAM-PEEK-")
	addFn(s.b, name, s.node, func(ctx topology.ProcessorContext[K, V], rec topology.Record[K, V]) error {
		fn(rec.Key, rec.Value)
		return ctx.Forward(rec)
	})
	return s.with(name)
}

// Foreach calls fn on each record; the stream ends there.
func (s KStream[K, V]) Foreach(fn func(K, V), named ...Named) {
	name := s.b.nameOr(collect(nameOpts(named)), "KSTREAM-FOREACH-")
	addFn(s.b, name, s.node, func(_ topology.ProcessorContext[K, V], rec topology.Record[K, V]) error {
		fn(rec.Key, rec.Value)
		return nil
	})
}

// Merge interleaves the records of s and other, in processing order.
func (s KStream[K, V]) Merge(other KStream[K, V], named ...Named) KStream[K, V] {
	name := s.b.nameOr(collect(nameOpts(named)), "KSTREAM-MERGE-")
	topology.AddProcessor(s.b.tb, name, func() topology.Processor[K, V, K, V] {
		return &fnProc[K, V, K, V]{fn: func(ctx topology.ProcessorContext[K, V], rec topology.Record[K, V]) error {
			return ctx.Forward(rec)
		}}
	}, s.node, other.node)
	out := s.with(name)
	out.repartition = s.repartition || other.repartition
	if out.keySerde == nil {
		out.keySerde = other.keySerde
	}
	if out.valueSerde == nil {
		out.valueSerde = other.valueSerde
	}
	return out
}

// To writes the stream to topic, with the serdes of Produced, else the
// stream's, else the builder's defaults.
func (s KStream[K, V]) To(topic string, produced ...Produced[K, V]) {
	o := collect(configs(produced))
	name := s.b.nameOr(o, "KSTREAM-SINK-")
	ks := serdeOf(s.b, o.keySerde, s.keySerde, name, "key")
	vs := serdeOf(s.b, o.valueSerde, s.valueSerde, name, "value")
	need(s.b, ks, name, "key", "topic "+topic)
	need(s.b, vs, name, "value", "topic "+topic)
	topology.AddSink(s.b.tb, name, topic, ks, vs, s.node)
}

// ToFunc writes each record to the topic topic returns for it.
func (s KStream[K, V]) ToFunc(topic func(K, V) string, produced ...Produced[K, V]) {
	o := collect(configs(produced))
	name := s.b.nameOr(o, "KSTREAM-SINK-")
	ks := serdeOf(s.b, o.keySerde, s.keySerde, name, "key")
	vs := serdeOf(s.b, o.valueSerde, s.valueSerde, name, "value")
	need(s.b, ks, name, "key", "its topics")
	need(s.b, vs, name, "value", "its topics")
	var extract topology.TopicExtractor[K, V]
	if topic != nil {
		extract = func(rec topology.Record[K, V]) (string, error) { return topic(rec.Key, rec.Value), nil }
	}
	topology.AddSinkFunc(s.b.tb, name, extract, ks, vs, s.node)
}

// Repartition writes the stream through an internal topic
// "<app>-<name>-repartition" and reads it back, so that records are
// partitioned by their current key. Repartitioned names the topic and
// sets its serdes and size.
func (s KStream[K, V]) Repartition(repartitioned ...Repartitioned[K, V]) KStream[K, V] {
	o := collect(configs(repartitioned))
	base := o.name
	if base == "" {
		base = s.b.newName("KSTREAM-REPARTITION-")
	}
	ks := serdeOf(s.b, o.keySerde, s.keySerde, base, "key")
	vs := serdeOf(s.b, o.valueSerde, s.valueSerde, base, "value")
	out := repartitionThrough(s.b, s.node, base, ks, vs, o.partitions, false)
	return KStream[K, V]{b: s.b, node: out, keySerde: ks, valueSerde: vs}
}

// repartitionThrough adds sink -> <base>-repartition -> source after
// parent and returns the source's name. With dropNullKeys, records with
// null keys are filtered out first, as before an aggregation.
func repartitionThrough[K, V any](b *Builder, parent, base string, ks serde.Serde[K], vs serde.Serde[V], partitions int, dropNullKeys bool) string {
	topic := base + "-repartition"
	need(b, ks, base, "key", "repartition topic "+topic)
	need(b, vs, base, "value", "repartition topic "+topic)
	sink := b.newName("KSTREAM-SINK-")
	if dropNullKeys {
		filter := b.newName("KSTREAM-FILTER-")
		addFn(b, filter, parent, func(ctx topology.ProcessorContext[K, V], rec topology.Record[K, V]) error {
			if rec.NullKey {
				ctx.RecordDropped("null-key")
				return nil
			}
			return ctx.Forward(rec)
		})
		parent = filter
	}
	src := b.newName("KSTREAM-SOURCE-")
	b.tb.AddInternalTopic(topic, partitions)
	topology.AddSink(b.tb, sink, topic, ks, vs, parent)
	topology.AddSource(b.tb, src, ks, vs, topic)
	return src
}

// Map replaces each record's key and value. The key may change, so a later
// stateful operator repartitions. The serdes of the new types come from
// the next operator's configuration or the builder's defaults.
func Map[K, V, K2, V2 any](s KStream[K, V], fn func(K, V) (K2, V2), named ...Named) KStream[K2, V2] {
	o := collect(nameOpts(named))
	name := s.b.nameOr(o, "KSTREAM-MAP-")
	addFn(s.b, name, s.node, func(ctx topology.ProcessorContext[K2, V2], rec topology.Record[K, V]) error {
		k, v := fn(rec.Key, rec.Value)
		return ctx.Forward(topology.Record[K2, V2]{Key: k, Value: v, Timestamp: rec.Timestamp, Headers: rec.Headers})
	})
	return KStream[K2, V2]{b: s.b, node: name, repartition: true,
		keySerde:   serdeOf[K2](s.b, o.keySerde, nil, name, "key"),
		valueSerde: serdeOf[V2](s.b, o.valueSerde, nil, name, "value")}
}

// MapValues replaces each record's value; the key stays, so no
// repartitioning is needed. A null value reaches fn as the zero value.
func MapValues[K, V, V2 any](s KStream[K, V], fn func(V) V2, named ...Named) KStream[K, V2] {
	return MapValuesWithKey(s, func(_ K, v V) V2 { return fn(v) }, named...)
}

// MapValuesWithKey is MapValues with read-only access to the key.
func MapValuesWithKey[K, V, V2 any](s KStream[K, V], fn func(K, V) V2, named ...Named) KStream[K, V2] {
	o := collect(nameOpts(named))
	name := s.b.nameOr(o, "KSTREAM-MAPVALUES-")
	addFn(s.b, name, s.node, func(ctx topology.ProcessorContext[K, V2], rec topology.Record[K, V]) error {
		return ctx.Forward(topology.Record[K, V2]{Key: rec.Key, Value: fn(rec.Key, rec.Value), Timestamp: rec.Timestamp,
			Headers: rec.Headers, NullKey: rec.NullKey})
	})
	return KStream[K, V2]{b: s.b, node: name, repartition: s.repartition, keySerde: s.keySerde,
		valueSerde: serdeOf[V2](s.b, o.valueSerde, nil, name, "value")}
}

// SelectKey replaces each record's key; a later stateful operator
// repartitions.
func SelectKey[K, V, K2 any](s KStream[K, V], fn func(K, V) K2, named ...Named) KStream[K2, V] {
	o := collect(nameOpts(named))
	name := s.b.nameOr(o, "KSTREAM-KEY-SELECT-")
	addSelectKey(s.b, name, s.node, fn)
	return KStream[K2, V]{b: s.b, node: name, repartition: true, valueSerde: s.valueSerde,
		keySerde: serdeOf[K2](s.b, o.keySerde, nil, name, "key")}
}

func addSelectKey[K, V, K2 any](b *Builder, name, parent string, fn func(K, V) K2) {
	addFn(b, name, parent, func(ctx topology.ProcessorContext[K2, V], rec topology.Record[K, V]) error {
		return ctx.Forward(topology.Record[K2, V]{Key: fn(rec.Key, rec.Value), Value: rec.Value, Timestamp: rec.Timestamp,
			Headers: rec.Headers, NullValue: rec.NullValue})
	})
}

// FlatMap turns each record into zero or more records with new keys.
func FlatMap[K, V, K2, V2 any](s KStream[K, V], fn func(K, V) []KeyValue[K2, V2], named ...Named) KStream[K2, V2] {
	o := collect(nameOpts(named))
	name := s.b.nameOr(o, "KSTREAM-FLATMAP-")
	addFn(s.b, name, s.node, func(ctx topology.ProcessorContext[K2, V2], rec topology.Record[K, V]) error {
		for _, kv := range fn(rec.Key, rec.Value) {
			if err := ctx.Forward(topology.Record[K2, V2]{Key: kv.Key, Value: kv.Value, Timestamp: rec.Timestamp, Headers: rec.Headers}); err != nil {
				return err
			}
		}
		return nil
	})
	return KStream[K2, V2]{b: s.b, node: name, repartition: true,
		keySerde:   serdeOf[K2](s.b, o.keySerde, nil, name, "key"),
		valueSerde: serdeOf[V2](s.b, o.valueSerde, nil, name, "value")}
}

// FlatMapValues turns each record into zero or more records with the same
// key.
func FlatMapValues[K, V, V2 any](s KStream[K, V], fn func(V) []V2, named ...Named) KStream[K, V2] {
	o := collect(nameOpts(named))
	name := s.b.nameOr(o, "KSTREAM-FLATMAPVALUES-")
	addFn(s.b, name, s.node, func(ctx topology.ProcessorContext[K, V2], rec topology.Record[K, V]) error {
		for _, v := range fn(rec.Value) {
			if err := ctx.Forward(topology.Record[K, V2]{Key: rec.Key, Value: v, Timestamp: rec.Timestamp, Headers: rec.Headers, NullKey: rec.NullKey}); err != nil {
				return err
			}
		}
		return nil
	})
	return KStream[K, V2]{b: s.b, node: name, repartition: s.repartition, keySerde: s.keySerde,
		valueSerde: serdeOf[V2](s.b, o.valueSerde, nil, name, "value")}
}

// ProcessOption configures Process: Named names the node, Stores connects
// it to stores.
type ProcessOption interface{ processOption() option }

func (n Named) processOption() option { return func(o *options) { o.name = string(n) } }

type storeNames []string

func (s storeNames) processOption() option {
	return func(o *options) { o.stores = append(o.stores, s...) }
}

// Stores connects a Process operator to stores added with
// Builder.AddStateStore (Kafka Streams' stateStoreNames).
func Stores(names ...string) ProcessOption { return storeNames(names) }

// Process runs a Processor API processor on the stream; Stores connects it
// to stores added with Builder.AddStateStore. The processor may change
// keys, so a later stateful operator repartitions.
func Process[K, V, K2, V2 any](s KStream[K, V], supplier topology.ProcessorSupplier[K, V, K2, V2], opts ...ProcessOption) KStream[K2, V2] {
	po := make([]option, 0, len(opts))
	for _, p := range opts {
		if p != nil {
			po = append(po, p.processOption())
		}
	}
	o := collect(po)
	name := s.b.nameOr(o, "KSTREAM-PROCESSOR-")
	topology.AddProcessor(s.b.tb, name, supplier, s.node)
	if len(o.stores) > 0 {
		s.b.tb.ConnectProcessorAndStateStores([]string{name}, o.stores...)
	}
	return KStream[K2, V2]{b: s.b, node: name, repartition: true,
		keySerde:   serdeOf[K2](s.b, o.keySerde, nil, name, "key"),
		valueSerde: serdeOf[V2](s.b, o.valueSerde, nil, name, "value")}
}

// BranchedStream splits a stream by predicates (KStream.Split).
type BranchedStream[K, V any] struct {
	s        KStream[K, V]
	prefix   string
	node     string
	preds    []func(K, V) bool
	children []string
	branches map[string]KStream[K, V]
	def      bool
}

// Split starts a split: each record goes to the first branch whose
// predicate matches, or to the default branch, or nowhere. Named sets the
// prefix of the branch names.
func (s KStream[K, V]) Split(named ...Named) *BranchedStream[K, V] {
	o := collect(nameOpts(named))
	name := s.b.nameOr(o, "KSTREAM-BRANCH-")
	prefix := o.name
	if prefix == "" {
		prefix = name + "-"
	}
	bs := &BranchedStream[K, V]{s: s, prefix: prefix, node: name, branches: map[string]KStream[K, V]{}}
	topology.AddProcessor(s.b.tb, name, func() topology.Processor[K, V, K, V] {
		return &fnProc[K, V, K, V]{fn: func(ctx topology.ProcessorContext[K, V], rec topology.Record[K, V]) error {
			for i, p := range bs.preds {
				if p == nil || p(rec.Key, rec.Value) {
					return ctx.ForwardTo(bs.children[i], rec)
				}
			}
			return nil
		}}
	}, s.node)
	return bs
}

// Branch adds a branch named prefix+name (prefix+index when name is empty).
func (bs *BranchedStream[K, V]) Branch(pred func(K, V) bool, name string) *BranchedStream[K, V] {
	if pred == nil {
		bs.s.b.problem(topologyInvalid("branch %q of %q has a nil predicate", name, bs.node))
		return bs
	}
	bs.add(pred, name)
	return bs
}

// DefaultBranch adds the branch for records no predicate matched.
func (bs *BranchedStream[K, V]) DefaultBranch(name string) *BranchedStream[K, V] {
	if bs.def {
		bs.s.b.problem(topologyInvalid("split %q has two default branches", bs.node))
		return bs
	}
	bs.def = true
	bs.add(nil, name)
	return bs
}

func (bs *BranchedStream[K, V]) add(pred func(K, V) bool, name string) {
	if name == "" {
		name = itoa(len(bs.preds))
	}
	if bs.def && pred != nil {
		bs.s.b.problem(topologyInvalid("split %q: branch %q after the default branch", bs.node, name))
		return
	}
	node := bs.prefix + name
	addFn(bs.s.b, node, bs.node, func(ctx topology.ProcessorContext[K, V], rec topology.Record[K, V]) error {
		return ctx.Forward(rec)
	})
	bs.preds = append(bs.preds, pred)
	bs.children = append(bs.children, node)
	bs.branches[node] = bs.s.with(node)
}

// Branches returns the branches by full name (prefix + branch name).
func (bs *BranchedStream[K, V]) Branches() map[string]KStream[K, V] { return bs.branches }
