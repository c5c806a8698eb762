package stream

import (
	"errors"
	"fmt"
	"reflect"
	"strings"

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
	serdes   map[reflect.Type]any // default serde per Go type, each a serde.Serde of that type
	missing  map[string]bool      // types whose missing serde was reported
	ext      builderExt           // windows and suppression: see window_aggregate.go
}

// BuilderOption configures a Builder.
type BuilderOption func(*Builder)

// DefaultSerde registers s as the serde of every key or value of type T
// that no operator's configuration gives a serde for (Kafka Streams'
// default.key.serde and default.value.serde, but per Go type). The
// builder starts with Kafka's serdes for string, []byte, bool, int16,
// int32, int64, float32 and float64; registering one of these types
// replaces its default.
func DefaultSerde[T any](s serde.Serde[T]) BuilderOption {
	return func(b *Builder) { RegisterSerde(b, s) }
}

// RegisterSerde is DefaultSerde for a builder already made, for code
// that adds operators to a builder it is handed (a library of queries
// registering its own types). It applies to operators added after it.
func RegisterSerde[T any](b *Builder, s serde.Serde[T]) {
	if s != nil {
		b.serdes[reflect.TypeFor[T]()] = s
	}
}

// NewBuilder returns an empty Builder.
func NewBuilder(opts ...BuilderOption) *Builder {
	b := &Builder{tb: topology.NewBuilder(), missing: map[string]bool{}, serdes: map[reflect.Type]any{
		reflect.TypeFor[string]():  serde.String(),
		reflect.TypeFor[[]byte]():  serde.Bytes(),
		reflect.TypeFor[bool]():    serde.Bool(),
		reflect.TypeFor[int16]():   serde.Int16(),
		reflect.TypeFor[int32]():   serde.Int32(),
		reflect.TypeFor[int64]():   serde.Int64(),
		reflect.TypeFor[float32](): serde.Float32(),
		reflect.TypeFor[float64](): serde.Float64(),
	}}
	for _, o := range opts {
		if o != nil {
			o(b)
		}
	}
	return b
}

// defaultSerde is the registered serde for T, or nil. It runs while the
// topology is built, never per record.
func defaultSerde[T any](b *Builder) serde.Serde[T] {
	s, _ := b.serdes[reflect.TypeFor[T]()].(serde.Serde[T])
	return s
}

// Build validates the program and returns its topology. Problems found
// while the DSL was used (a missing serde, a duplicate name...) and problems
// of the graph are all reported, joined, one per cause.
func (b *Builder) Build() (*topology.Topology, error) {
	t, err := b.tb.Build()
	if len(b.missing) > 0 {
		// The DSL checked every serde it handed to the graph and reported
		// each missing one once; the graph's own reports would repeat them.
		err = withoutMissingSerde(err)
	}
	if errs := append(b.problems, err); errors.Join(errs...) != nil {
		return nil, errors.Join(errs...)
	}
	return t, nil
}

func withoutMissingSerde(err error) error {
	if err == nil {
		return nil
	}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var keep []error
		for _, e := range j.Unwrap() {
			if e = withoutMissingSerde(e); e != nil {
				keep = append(keep, e)
			}
		}
		return errors.Join(keep...)
	}
	if errors.Is(err, topology.ErrMissingSerde) {
		return nil
	}
	return err
}

// Topology gives access to the underlying Processor API builder, to add
// stores (AddStateStore) or nodes the DSL cannot express.
func (b *Builder) Topology() *topology.Builder { return b.tb }

// AddStateStore declares a store that Process operators may then use
// (see ProcessWithStores).
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

func collect(opts []option) *options {
	o := &options{}
	for _, f := range opts {
		if f != nil {
			f(o)
		}
	}
	return o
}

func (o *options) spec(name string) state.Spec {
	return state.Spec{Name: name, Kind: state.KindKeyValue, Engine: o.engine,
		LoggingDisabled: o.noLogging, LogConfig: o.logConfig, Caching: !o.noCaching}
}

// tableSpec is the spec of a KTable's store: timestamped, as Kafka
// Streams' DSL tables, so that results can carry the timestamps of the
// rows they come from.
func (o *options) tableSpec(name string) state.Spec {
	spec := o.spec(name)
	spec.Timestamped = true
	return spec
}

// serdeOf returns the serde set by a configuration, or def, or the
// builder's default for T. Configurations only ever hold serdes of the
// operator's own types (they are generic), so the assertion holds.
func serdeOf[T any](b *Builder, set any, def serde.Serde[T], op, which string) serde.Serde[T] {
	if set != nil {
		if s, ok := set.(serde.Serde[T]); ok {
			return s
		}
		b.problem(fmt.Errorf("%w: %s serde of %q is a %T, which is not a serde.Serde[%s]",
			topology.ErrTypeMismatch, which, op, set, typeName[T]()))
	}
	if def != nil {
		return def
	}
	return defaultSerde[T](b)
}

func typeName[T any]() string { var z T; return fmt.Sprintf("%T", any(&z))[1:] }

// need records a missing serde, naming the operator and why it needs one.
// A missing serde is reported once per type: the operators downstream
// that lack it for the same reason would only repeat the cause (and a
// windowed key lacks a serde because its key does).
func need[T any](b *Builder, s serde.Serde[T], op, which, why string) bool {
	if s != nil {
		return true
	}
	t := typeName[T]()
	if inner, ok := strings.CutPrefix(t, "stream.Windowed["); ok && b.missing[strings.TrimSuffix(inner, "]")] {
		return false
	}
	if b.missing[t] {
		return false
	}
	b.missing[t] = true
	b.problem(fmt.Errorf("%w: no serde for %s: %q needs a %s serde for %s; give it in the operator's configuration "+
		"(ConsumedWith, ProducedWith, GroupedWith, MaterializedWith...) or register one with stream.DefaultSerde[%s]",
		topology.ErrMissingSerde, t, op, which, why, t))
	return false
}

// Stream reads topic as a KStream (Kafka Streams' StreamsBuilder.stream).
// Serdes come from Consumed or the builder's defaults:
//
//	stream.Stream(b, "orders", stream.ConsumedWith(serde.String(), serde.JSON[Order]()))
//	stream.Stream[string, string](b, "lines")
func Stream[K, V any](b *Builder, topic string, consumed ...Consumed[K, V]) KStream[K, V] {
	return StreamTopics(b, []string{topic}, consumed...)
}

// StreamTopics reads several topics as one KStream.
func StreamTopics[K, V any](b *Builder, topics []string, consumed ...Consumed[K, V]) KStream[K, V] {
	o := collect(configs(consumed))
	name := b.nameOr(o, "KSTREAM-SOURCE-")
	ks, vs := sourceSerdes[K, V](b, o, name, fmt.Sprintf("source topics %q", topics))
	topology.AddSourceWithExtractor(b.tb, name, ks, vs, timestampExtractor[K, V](o), topics...)
	return KStream[K, V]{b: b, node: name, keySerde: ks, valueSerde: vs}
}

func sourceSerdes[K, V any](b *Builder, o *options, name, why string) (serde.Serde[K], serde.Serde[V]) {
	ks := serdeOf[K](b, o.keySerde, nil, name, "key")
	vs := serdeOf[V](b, o.valueSerde, nil, name, "value")
	need(b, ks, name, "key", why)
	need(b, vs, name, "value", why)
	return ks, vs
}

// TableOption configures Table and GlobalTable: a Consumed[K, V] for the
// source, a Materialized[K, V] for the store. Its method mentions K and V
// so that only configurations of the table's own types fit.
type TableOption[K, V any] interface {
	tableOption(K, V) option
}

func (c Consumed[K, V]) tableOption(K, V) option     { return c.option() }
func (m Materialized[K, V]) tableOption(K, V) option { return m.option() }

func tableOpts[K, V any](opts []TableOption[K, V]) []option {
	out := make([]option, 0, len(opts))
	var k K
	var v V
	for _, o := range opts {
		if o != nil {
			out = append(out, o.tableOption(k, v))
		}
	}
	return out
}

// Table reads topic as a changelog into a KTable, materialised in a store
// (named with MaterializedAs, generated otherwise). A record with a null
// value deletes its key; records with a null key are dropped.
//
//	stream.Table(b, "customers", stream.ConsumedWith(serde.String(), serde.JSON[Customer]()),
//		stream.MaterializedAs[string, Customer]("customers"))
func Table[K, V any](b *Builder, topic string, opts ...TableOption[K, V]) KTable[K, V] {
	o := collect(tableOpts(opts))
	src := b.newName("KSTREAM-SOURCE-")
	store := o.storeName
	if store == "" {
		store = b.newName(topic + "-STATE-STORE-")
	}
	name := b.nameOr(o, "KTABLE-SOURCE-")
	keySerde, valueSerde := sourceSerdes[K, V](b, o, name, fmt.Sprintf("table topic %q", topic))
	topology.AddSourceWithExtractor(b.tb, src, keySerde, valueSerde, timestampExtractor[K, V](o), topic)
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
// raw bytes (the topic is its changelog): logging and caching settings of
// a Materialized do not apply.
func GlobalTable[K, V any](b *Builder, topic string, opts ...TableOption[K, V]) GlobalKTable[K, V] {
	o := collect(tableOpts(opts))
	src := b.newName("KSTREAM-SOURCE-")
	store := o.storeName
	if store == "" {
		store = b.newName(topic + "-STATE-STORE-")
	}
	proc := b.nameOr(o, "KTABLE-SOURCE-")
	keySerde, valueSerde := sourceSerdes[K, V](b, o, proc, fmt.Sprintf("global table topic %q", topic))
	spec := o.spec(store)
	spec.LoggingDisabled = true // the source topic is the changelog
	spec.Caching = false
	b.tb.AddGlobalStore(topology.GlobalStore{Topic: topic, Spec: spec, SourceName: src, ProcessorName: proc})
	return GlobalKTable[K, V]{store: store, keySerde: keySerde, valueSerde: valueSerde}
}
