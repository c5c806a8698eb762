package stream

import (
	"time"

	"github.com/kafki/kafki/serde"
	"github.com/kafki/kafki/state"
)

// The per-operator configuration types, Kafka Streams' Consumed, Produced,
// Grouped, Repartitioned, Materialized, Joined and StreamJoined made
// generic: each carries serdes of the operator's own key and value types,
// so that a serde of the wrong type, or a configuration an operator does
// not take, is a compile error rather than a Build error. Each is a value:
// start from a constructor (ConsumedWith, MaterializedAs, ...) or the zero
// value and chain With... methods, each of which returns a copy.
//
// Serdes not given fall back to the serdes the stream already carries (for
// operators that do not change the type) and then to the builder's
// defaults for the type (DefaultSerde).

// Named names a stateless operator (Kafka Streams' Named.as): the node in
// Describe and, for Split, the prefix of the branch names.
type Named string

// option is how every configuration type reaches the builder's shared,
// untyped representation; typed values are only ever stored in it by the
// generic configuration types, so the type assertions on the way out
// cannot fail.
type option func(*options)

// configs flattens an operator's configuration values into options.
func configs[C interface{ option() option }](cs []C) []option {
	out := make([]option, 0, len(cs))
	for _, c := range cs {
		out = append(out, c.option())
	}
	return out
}

func nameOpts(ns []Named) []option {
	out := make([]option, 0, len(ns))
	for _, n := range ns {
		out = append(out, func(o *options) { o.name = string(n) })
	}
	return out
}

func setSerdes[K, V any](o *options, ks serde.Serde[K], vs serde.Serde[V]) {
	if ks != nil {
		o.keySerde = ks
	}
	if vs != nil {
		o.valueSerde = vs
	}
}

// Consumed configures a source (Stream, StreamTopics, Table, GlobalTable):
// its serdes, processor name and timestamp extractor.
type Consumed[K, V any] struct {
	name       string
	keySerde   serde.Serde[K]
	valueSerde serde.Serde[V]
	extractor  func(K, V, time.Time) time.Time
}

// ConsumedWith reads keys and values with the given serdes; either may be
// nil to use the builder's default for its type.
func ConsumedWith[K, V any](keySerde serde.Serde[K], valueSerde serde.Serde[V]) Consumed[K, V] {
	return Consumed[K, V]{keySerde: keySerde, valueSerde: valueSerde}
}

// ConsumedAs names the source node, with default serdes.
func ConsumedAs[K, V any](name string) Consumed[K, V] { return Consumed[K, V]{name: name} }

// WithName names the source node.
func (c Consumed[K, V]) WithName(name string) Consumed[K, V] { c.name = name; return c }

// WithKeySerde sets the key serde.
func (c Consumed[K, V]) WithKeySerde(s serde.Serde[K]) Consumed[K, V] { c.keySerde = s; return c }

// WithValueSerde sets the value serde.
func (c Consumed[K, V]) WithValueSerde(s serde.Serde[V]) Consumed[K, V] { c.valueSerde = s; return c }

// WithTimestampExtractor sets the source's event time from its records: fn
// gets the key, the value (zero values for null ones) and the record's own
// timestamp and returns the time that the record carries downstream, for
// windows and joins, and that advances the task's stream time, for
// stream-time punctuators. A result before the epoch drops the record,
// counted as "negative-timestamp".
func (c Consumed[K, V]) WithTimestampExtractor(fn func(key K, value V, recordTime time.Time) time.Time) Consumed[K, V] {
	c.extractor = fn
	return c
}

func (c Consumed[K, V]) option() option {
	return func(o *options) {
		if c.name != "" {
			o.name = c.name
		}
		setSerdes(o, c.keySerde, c.valueSerde)
		if c.extractor != nil {
			o.ext.tsExtractor = c.extractor
		}
	}
}

// Produced configures a sink (To, ToFunc): its serdes and name.
type Produced[K, V any] struct {
	name       string
	keySerde   serde.Serde[K]
	valueSerde serde.Serde[V]
}

// ProducedWith writes keys and values with the given serdes; either may be
// nil to use the stream's (or the builder's default).
func ProducedWith[K, V any](keySerde serde.Serde[K], valueSerde serde.Serde[V]) Produced[K, V] {
	return Produced[K, V]{keySerde: keySerde, valueSerde: valueSerde}
}

// ProducedAs names the sink node.
func ProducedAs[K, V any](name string) Produced[K, V] { return Produced[K, V]{name: name} }

// WithName names the sink node.
func (p Produced[K, V]) WithName(name string) Produced[K, V] { p.name = name; return p }

// WithKeySerde sets the key serde.
func (p Produced[K, V]) WithKeySerde(s serde.Serde[K]) Produced[K, V] { p.keySerde = s; return p }

// WithValueSerde sets the value serde.
func (p Produced[K, V]) WithValueSerde(s serde.Serde[V]) Produced[K, V] { p.valueSerde = s; return p }

func (p Produced[K, V]) option() option {
	return func(o *options) {
		if p.name != "" {
			o.name = p.name
		}
		setSerdes(o, p.keySerde, p.valueSerde)
	}
}

// Grouped configures a grouping (GroupByKey, GroupBy, GroupByTable): the
// serdes of its repartition topic and the name that topic is derived from
// ("<name>-repartition").
type Grouped[K, V any] struct {
	name       string
	keySerde   serde.Serde[K]
	valueSerde serde.Serde[V]
}

// GroupedWith sets the serdes of the grouping's repartition topic.
func GroupedWith[K, V any](keySerde serde.Serde[K], valueSerde serde.Serde[V]) Grouped[K, V] {
	return Grouped[K, V]{keySerde: keySerde, valueSerde: valueSerde}
}

// GroupedAs names the grouping's repartition topic "<name>-repartition".
func GroupedAs[K, V any](name string) Grouped[K, V] { return Grouped[K, V]{name: name} }

// WithName names the repartition topic "<name>-repartition".
func (g Grouped[K, V]) WithName(name string) Grouped[K, V] { g.name = name; return g }

// WithKeySerde sets the key serde.
func (g Grouped[K, V]) WithKeySerde(s serde.Serde[K]) Grouped[K, V] { g.keySerde = s; return g }

// WithValueSerde sets the value serde.
func (g Grouped[K, V]) WithValueSerde(s serde.Serde[V]) Grouped[K, V] { g.valueSerde = s; return g }

func (g Grouped[K, V]) option() option {
	return func(o *options) {
		if g.name != "" {
			o.name = g.name
		}
		setSerdes(o, g.keySerde, g.valueSerde)
	}
}

// Repartitioned configures KStream.Repartition: serdes, the topic's base
// name and its partition count.
type Repartitioned[K, V any] struct {
	name       string
	keySerde   serde.Serde[K]
	valueSerde serde.Serde[V]
	partitions int
}

// RepartitionedWith sets the serdes of the repartition topic.
func RepartitionedWith[K, V any](keySerde serde.Serde[K], valueSerde serde.Serde[V]) Repartitioned[K, V] {
	return Repartitioned[K, V]{keySerde: keySerde, valueSerde: valueSerde}
}

// RepartitionedAs names the topic "<name>-repartition".
func RepartitionedAs[K, V any](name string) Repartitioned[K, V] {
	return Repartitioned[K, V]{name: name}
}

// WithName names the topic "<name>-repartition".
func (r Repartitioned[K, V]) WithName(name string) Repartitioned[K, V] { r.name = name; return r }

// WithKeySerde sets the key serde.
func (r Repartitioned[K, V]) WithKeySerde(s serde.Serde[K]) Repartitioned[K, V] {
	r.keySerde = s
	return r
}

// WithValueSerde sets the value serde.
func (r Repartitioned[K, V]) WithValueSerde(s serde.Serde[V]) Repartitioned[K, V] {
	r.valueSerde = s
	return r
}

// WithNumberOfPartitions sets the topic's partition count (default: that
// of the upstream source topics).
func (r Repartitioned[K, V]) WithNumberOfPartitions(n int) Repartitioned[K, V] {
	r.partitions = n
	return r
}

func (r Repartitioned[K, V]) option() option {
	return func(o *options) {
		if r.name != "" {
			o.name = r.name
		}
		setSerdes(o, r.keySerde, r.valueSerde)
		o.partitions = r.partitions
	}
}

// store is what Materialized and StreamJoined say about the stores they
// configure.
type store struct {
	name      string
	engine    state.Engine
	noLogging bool
	logConfig map[string]string
	noCaching bool
	retention time.Duration
}

func (s store) apply(o *options) {
	if s.name != "" {
		o.storeName = s.name
	}
	if s.engine != state.RocksDB {
		o.engine = s.engine
	}
	o.noLogging = s.noLogging
	if s.logConfig != nil {
		o.logConfig = s.logConfig
	}
	o.noCaching = s.noCaching
	if s.retention != 0 {
		o.ext.retention = s.retention
	}
}

// Materialized configures the store of a stateful operator (a table
// source, an aggregation, a materialised table operator, a table join,
// Suppress): its name, serdes, engine, changelog, cache and retention.
// K and V are the types the store holds: for a windowed aggregation, the
// grouping key (not Windowed[K]) and the aggregate.
//
// A store is logged to a changelog and cached by default, as in Kafka
// Streams; a store without a name gets a generated one, and only named
// stores can be queried.
type Materialized[K, V any] struct {
	store
	keySerde   serde.Serde[K]
	valueSerde serde.Serde[V]
}

// MaterializedAs names the store (Kafka Streams' Materialized.as). Its
// changelog is "<application id>-<name>-changelog" and an aggregation's
// repartition topic, unless its grouping is named, "<name>-repartition".
func MaterializedAs[K, V any](storeName string) Materialized[K, V] {
	return Materialized[K, V]{store: store{name: storeName}}
}

// MaterializedWith sets the store's serdes; either may be nil to use the
// stream's (or the builder's default).
func MaterializedWith[K, V any](keySerde serde.Serde[K], valueSerde serde.Serde[V]) Materialized[K, V] {
	return Materialized[K, V]{keySerde: keySerde, valueSerde: valueSerde}
}

// WithStoreName names the store.
func (m Materialized[K, V]) WithStoreName(name string) Materialized[K, V] { m.name = name; return m }

// WithKeySerde sets the key serde.
func (m Materialized[K, V]) WithKeySerde(s serde.Serde[K]) Materialized[K, V] {
	m.keySerde = s
	return m
}

// WithValueSerde sets the value serde.
func (m Materialized[K, V]) WithValueSerde(s serde.Serde[V]) Materialized[K, V] {
	m.valueSerde = s
	return m
}

// WithEngine puts the store on an engine: state.RocksDB (the default,
// needs cgo), state.Pebble (persistent, pure Go) or state.InMemory.
func (m Materialized[K, V]) WithEngine(e state.Engine) Materialized[K, V] { m.engine = e; return m }

// WithLoggingDisabled turns the store's changelog off: its content is then
// lost when its task moves to another instance.
func (m Materialized[K, V]) WithLoggingDisabled() Materialized[K, V] { m.noLogging = true; return m }

// WithLoggingEnabled keeps the changelog on (the default) and adds topic
// configs to it.
func (m Materialized[K, V]) WithLoggingEnabled(topicConfig map[string]string) Materialized[K, V] {
	m.noLogging, m.logConfig = false, topicConfig
	return m
}

// WithCachingDisabled turns the record cache off: a table then forwards
// every update, not only the latest per key at each flush.
func (m Materialized[K, V]) WithCachingDisabled() Materialized[K, V] { m.noCaching = true; return m }

// WithCachingEnabled turns the record cache on (the default).
func (m Materialized[K, V]) WithCachingEnabled() Materialized[K, V] { m.noCaching = false; return m }

// WithRetention keeps a window or session store's data for d (default and
// minimum: window size plus grace), so that interactive queries can read
// older windows.
func (m Materialized[K, V]) WithRetention(d time.Duration) Materialized[K, V] {
	m.retention = d
	return m
}

func (m Materialized[K, V]) option() option {
	return func(o *options) {
		m.store.apply(o)
		setSerdes(o, m.keySerde, m.valueSerde)
	}
}

// Joined configures a stream-table join (JoinTable, LeftJoinTable): its
// name and the serdes of the stream side's repartition topic, when the
// stream's key may have changed. (Kafka Streams' Joined also carries the
// table's value serde; here the table keeps its own.)
type Joined[K, V any] struct {
	name       string
	keySerde   serde.Serde[K]
	valueSerde serde.Serde[V]
}

// JoinedWith sets the serdes of the stream side's key and value.
func JoinedWith[K, V any](keySerde serde.Serde[K], valueSerde serde.Serde[V]) Joined[K, V] {
	return Joined[K, V]{keySerde: keySerde, valueSerde: valueSerde}
}

// JoinedAs names the join (and its repartition topic
// "<name>-left-repartition").
func JoinedAs[K, V any](name string) Joined[K, V] { return Joined[K, V]{name: name} }

// WithName names the join.
func (j Joined[K, V]) WithName(name string) Joined[K, V] { j.name = name; return j }

// WithKeySerde sets the key serde.
func (j Joined[K, V]) WithKeySerde(s serde.Serde[K]) Joined[K, V] { j.keySerde = s; return j }

// WithValueSerde sets the stream side's value serde.
func (j Joined[K, V]) WithValueSerde(s serde.Serde[V]) Joined[K, V] { j.valueSerde = s; return j }

func (j Joined[K, V]) option() option {
	return func(o *options) {
		if j.name != "" {
			o.name = j.name
		}
		setSerdes(o, j.keySerde, j.valueSerde)
	}
}

// StreamJoined configures a stream-stream join (Join, LeftJoin,
// OuterJoin): its name, which names its stores
// ("<name>-this-join-store", "<name>-other-join-store") and repartition
// topics, the serdes of both sides' window stores, and their engine and
// changelog.
type StreamJoined[K, V, VO any] struct {
	store
	keySerde        serde.Serde[K]
	valueSerde      serde.Serde[V]
	otherValueSerde serde.Serde[VO]
}

// StreamJoinedWith sets the serdes of the key and of both sides' values.
func StreamJoinedWith[K, V, VO any](keySerde serde.Serde[K], valueSerde serde.Serde[V], otherValueSerde serde.Serde[VO]) StreamJoined[K, V, VO] {
	return StreamJoined[K, V, VO]{keySerde: keySerde, valueSerde: valueSerde, otherValueSerde: otherValueSerde}
}

// StreamJoinedAs names the join.
func StreamJoinedAs[K, V, VO any](name string) StreamJoined[K, V, VO] {
	return StreamJoined[K, V, VO]{store: store{name: name}}
}

// WithName names the join.
func (j StreamJoined[K, V, VO]) WithName(name string) StreamJoined[K, V, VO] { j.name = name; return j }

// WithKeySerde sets the key serde.
func (j StreamJoined[K, V, VO]) WithKeySerde(s serde.Serde[K]) StreamJoined[K, V, VO] {
	j.keySerde = s
	return j
}

// WithValueSerde sets the left side's value serde.
func (j StreamJoined[K, V, VO]) WithValueSerde(s serde.Serde[V]) StreamJoined[K, V, VO] {
	j.valueSerde = s
	return j
}

// WithOtherValueSerde sets the right side's value serde.
func (j StreamJoined[K, V, VO]) WithOtherValueSerde(s serde.Serde[VO]) StreamJoined[K, V, VO] {
	j.otherValueSerde = s
	return j
}

// WithEngine puts both join stores on an engine.
func (j StreamJoined[K, V, VO]) WithEngine(e state.Engine) StreamJoined[K, V, VO] {
	j.engine = e
	return j
}

// WithLoggingDisabled turns the join stores' changelogs off.
func (j StreamJoined[K, V, VO]) WithLoggingDisabled() StreamJoined[K, V, VO] {
	j.noLogging = true
	return j
}

func (j StreamJoined[K, V, VO]) option() option {
	return func(o *options) {
		// The name names the join, not one store: keep it out of storeName.
		if j.name != "" {
			o.name = j.name
		}
		s := j.store
		s.name = ""
		s.apply(o)
		setSerdes(o, j.keySerde, j.valueSerde)
		if j.otherValueSerde != nil {
			o.ext.otherValueSerde = j.otherValueSerde
		}
	}
}
