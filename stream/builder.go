package stream

import (
	"errors"
	"fmt"

	"github.com/kafki/kafki/serde"
	"github.com/kafki/kafki/state"
	"github.com/kafki/kafki/topology"
)

// Builder collects DSL operations and compiles them into a topology.
// Unnamed operators and stores get Kafka Streams' generated names
// ("KSTREAM-MAP-0000000001") from a per-builder counter, so the same
// program always yields the same internal topic names.
type Builder struct {
	tb       *topology.Builder
	index    int
	problems []error
	ext      builderExt // windows and suppression: see window_aggregate.go
}

// NewBuilder returns an empty Builder.
func NewBuilder() *Builder { return &Builder{tb: topology.NewBuilder()} }

// Build validates the program and returns its topology. Problems found
// while the DSL was used (a missing serde, a duplicate name...) and problems
// of the graph are all reported, joined.
func (b *Builder) Build() (*topology.Topology, error) {
	t, err := b.tb.Build()
	if errs := append(b.problems, err); errors.Join(errs...) != nil {
		return nil, errors.Join(errs...)
	}
	return t, nil
}

// Topology gives access to the underlying Processor API builder, to add
// stores (AddStateStore) or nodes the DSL cannot express.
func (b *Builder) Topology() *topology.Builder { return b.tb }

// AddStateStore declares a store that Process operators may then use
// (see Stores).
func (b *Builder) AddStateStore(spec state.Spec) { b.tb.AddStateStore(spec) }

func (b *Builder) newName(prefix string) string {
	n := fmt.Sprintf("%s%010d", prefix, b.index)
	b.index++
	return n
}

func (b *Builder) problem(err error) { b.problems = append(b.problems, err) }

// nameOr returns the user's name or a generated one.
func (b *Builder) nameOr(o *options, prefix string) string {
	if o.name != "" {
		return o.name
	}
	return b.newName(prefix)
}

// Option configures an operator: its name, serdes, store.
type Option func(*options)

type options struct {
	name       string
	storeName  string
	keySerde   any
	valueSerde any
	engine     state.Engine
	noLogging  bool
	noCaching  bool
	logConfig  map[string]string
	partitions int
	stores     []string
	ext        extOptions // windows, joins, suppression: see windowed.go
}

func collect(opts []Option) *options {
	o := &options{}
	for _, f := range opts {
		if f != nil {
			f(o)
		}
	}
	return o
}

// Named names the operator (and, for groupings and repartitions, the
// repartition topic: "<name>-repartition").
func Named(name string) Option { return func(o *options) { o.name = name } }

// WithKeySerde sets the key serde of the operator's output (or of the
// records it writes or stores). Its type must match the key type.
func WithKeySerde[K any](s serde.Serde[K]) Option { return func(o *options) { o.keySerde = s } }

// WithValueSerde sets the value serde of the operator's output (or of the
// records it writes or stores). Its type must match.
func WithValueSerde[V any](s serde.Serde[V]) Option { return func(o *options) { o.valueSerde = s } }

// StoreName materialises the operator's result in a store of that name,
// which the test driver and interactive queries can read; its changelog
// is "<application id>-<name>-changelog" and an aggregation's repartition
// topic "<name>-repartition".
func StoreName(name string) Option { return func(o *options) { o.storeName = name } }

// InMemory keeps the store in memory (default: RocksDB, as Kafka Streams).
func InMemory() Option { return func(o *options) { o.engine = state.InMemory } }

// WithEngine puts the store on an engine: state.RocksDB (the default, needs
// cgo), state.Pebble (persistent, pure Go: for CGO_ENABLED=0 builds) or
// state.InMemory. The runtime links RocksDB (with cgo) and Pebble in.
func WithEngine(e state.Engine) Option { return func(o *options) { o.engine = e } }

// WithLogging turns the store's changelog on (default) or off.
func WithLogging(on bool) Option { return func(o *options) { o.noLogging = !on } }

// WithLogConfig adds topic configs to the store's changelog topic.
func WithLogConfig(cfg map[string]string) Option { return func(o *options) { o.logConfig = cfg } }

// WithCaching turns the store's record cache on (default) or off. With
// caching, a table forwards only the latest update per key at each flush.
func WithCaching(on bool) Option { return func(o *options) { o.noCaching = !on } }

// Partitions sets the partition count of a Repartition topic (default:
// that of the upstream source topics).
func Partitions(n int) Option { return func(o *options) { o.partitions = n } }

// Stores connects a Process operator to stores added with AddStateStore.
func Stores(names ...string) Option {
	return func(o *options) { o.stores = append(o.stores, names...) }
}

func (o *options) spec(name string) state.Spec {
	return state.Spec{Name: name, Kind: state.KindKeyValue, Engine: o.engine,
		Logging: !o.noLogging, LogConfig: o.logConfig, Caching: !o.noCaching}
}

// tableSpec is the spec of a KTable's store: timestamped, as Kafka
// Streams' DSL tables, so that results can carry the timestamps of the
// rows they come from.
func (o *options) tableSpec(name string) state.Spec {
	spec := o.spec(name)
	spec.Timestamped = true
	return spec
}

// serdeOf returns the serde set by an option, checked against T, or def.
func serdeOf[T any](b *Builder, set any, def serde.Serde[T], op, which string) serde.Serde[T] {
	if set == nil {
		return def
	}
	s, ok := set.(serde.Serde[T])
	if !ok {
		b.problem(fmt.Errorf("%w: %s serde of %q is a %T, which is not a serde.Serde[%s]",
			topology.ErrTypeMismatch, which, op, set, typeName[T]()))
		return def
	}
	return s
}

func typeName[T any]() string { var z T; return fmt.Sprintf("%T", any(&z))[1:] }

// need records a missing-serde problem, naming the operator and why.
func need[T any](b *Builder, s serde.Serde[T], op, which, why string) bool {
	if s == nil {
		b.problem(fmt.Errorf("%w: %q needs a %s serde for %s (use stream.With%sSerde)",
			topology.ErrMissingSerde, op, which, why, map[string]string{"key": "Key", "value": "Value"}[which]))
		return false
	}
	return true
}

// Stream reads topic as a KStream with the given serdes.
func Stream[K, V any](b *Builder, topic string, keySerde serde.Serde[K], valueSerde serde.Serde[V], opts ...Option) KStream[K, V] {
	return StreamTopics(b, []string{topic}, keySerde, valueSerde, opts...)
}

// StreamTopics reads several topics as one KStream.
func StreamTopics[K, V any](b *Builder, topics []string, keySerde serde.Serde[K], valueSerde serde.Serde[V], opts ...Option) KStream[K, V] {
	o := collect(opts)
	name := b.nameOr(o, "KSTREAM-SOURCE-")
	topology.AddSourceWithExtractor(b.tb, name, keySerde, valueSerde, timestampExtractor[K, V](b, o, name), topics...)
	return KStream[K, V]{b: b, node: name, keySerde: keySerde, valueSerde: valueSerde}
}

// Table reads topic as a changelog into a KTable, materialised in a store
// (named with StoreName, generated otherwise). A record with a null value
// deletes its key; records with a null key are dropped.
func Table[K, V any](b *Builder, topic string, keySerde serde.Serde[K], valueSerde serde.Serde[V], opts ...Option) KTable[K, V] {
	o := collect(opts)
	src := b.newName("KSTREAM-SOURCE-")
	store := o.storeName
	if store == "" {
		store = b.newName(topic + "-STATE-STORE-")
	}
	name := b.nameOr(o, "KTABLE-SOURCE-")
	topology.AddSourceWithExtractor(b.tb, src, keySerde, valueSerde, timestampExtractor[K, V](b, o, src), topic)
	spec := o.tableSpec(store)
	topology.AddProcessor(b.tb, name, func() topology.Processor[K, V, K, Change[V]] {
		return &tableSource[K, V]{emit: tableEmitter[K, V]{store: store, caching: spec.Caching, ks: keySerde, vs: valueSerde}}
	}, src)
	b.tb.AddStateStore(spec, name)
	return KTable[K, V]{b: b, node: name, store: store, keySerde: keySerde, valueSerde: valueSerde}
}

// GlobalKTable is a table replicated in full on every instance, read from
// all partitions of its topic. Joins look values up in it by key.
type GlobalKTable[K, V any] struct {
	store      string
	keySerde   serde.Serde[K]
	valueSerde serde.Serde[V]
}

// StoreName is the global store that holds the table.
func (g GlobalKTable[K, V]) StoreName() string { return g.store }

// GlobalTable reads topic into a GlobalKTable. Its store holds the topic's
// raw bytes (the topic is its changelog), so both serdes are required.
func GlobalTable[K, V any](b *Builder, topic string, keySerde serde.Serde[K], valueSerde serde.Serde[V], opts ...Option) GlobalKTable[K, V] {
	o := collect(opts)
	src := b.newName("KSTREAM-SOURCE-")
	store := o.storeName
	if store == "" {
		store = b.newName(topic + "-STATE-STORE-")
	}
	proc := b.nameOr(o, "KTABLE-SOURCE-")
	need(b, keySerde, proc, "key", "global table "+topic)
	need(b, valueSerde, proc, "value", "global table "+topic)
	spec := o.spec(store)
	spec.Logging = false // the source topic is the changelog
	spec.Caching = false
	b.tb.AddGlobalStore(topology.GlobalStore{Topic: topic, Spec: spec, SourceName: src, ProcessorName: proc})
	return GlobalKTable[K, V]{store: store, keySerde: keySerde, valueSerde: valueSerde}
}
