package topology

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"time"

	"github.com/kafki/kafki/serde"
	"github.com/kafki/kafki/state"
)

// Errors returned by Builder.Build. Each returned error wraps one of these
// and names the node, store or topic at fault.
var (
	ErrDuplicateName = errors.New("topology: duplicate name")
	ErrMissingTopic  = errors.New("topology: missing topic")
	ErrMissingSerde  = errors.New("topology: missing serde")
	ErrUnknownStore  = errors.New("topology: store used but never added")
	ErrUnknownNode   = errors.New("topology: unknown node")
	ErrCycle         = errors.New("topology: cycle")
	ErrTypeMismatch  = errors.New("topology: record type mismatch")
	ErrInvalid       = errors.New("topology: invalid")
)

type nodeKind int

const (
	kindSource nodeKind = iota
	kindProcessor
	kindSink
)

// nodeSpec is the untyped bookkeeping of one node; the typed per-record
// code lives in the instance that newInstance makes for each task.
type nodeSpec struct {
	name    string
	kind    nodeKind
	order   int
	parents []string
	topics  []string // sources
	topic   string   // sinks with a fixed topic
	dynamic bool     // sinks that choose the topic per record
	stores  []string

	keyIn, valIn, keyOut, valOut reflect.Type
	problems                     []error
	newInstance                  func() instance
}

// GlobalStore is a store that every instance fills from the whole of one
// topic (GlobalKTable). The runtime keeps it up to date by writing each
// record's raw key and value into it (a null value deletes the key); it is
// not part of any task.
type GlobalStore struct {
	Topic string
	Spec  state.Spec
	// SourceName and ProcessorName name the nodes that Describe shows.
	SourceName    string
	ProcessorName string
}

// Builder assembles a Topology with the Processor API. The Add functions
// record nodes and never fail; Build checks the whole graph and reports
// every problem it finds, so parents may be named before they are added.
//
// The zero Builder is not usable; call NewBuilder.
type Builder struct {
	nodes    []*nodeSpec
	byName   map[string]*nodeSpec
	stores   []state.Spec
	internal map[string]int // unprefixed internal topic -> partitions (0 = derive)
	globals  []GlobalStore
	problems []error
	copart   [][]string // see AddCoPartitionGroup
}

// NewBuilder returns an empty Builder.
func NewBuilder() *Builder {
	return &Builder{byName: map[string]*nodeSpec{}, internal: map[string]int{}}
}

func (b *Builder) add(n *nodeSpec) {
	n.order = len(b.nodes)
	if n.name == "" {
		b.problems = append(b.problems, fmt.Errorf("%w: node #%d has an empty name", ErrInvalid, n.order))
	} else if _, dup := b.byName[n.name]; dup {
		b.problems = append(b.problems, fmt.Errorf("%w: node %q is added twice", ErrDuplicateName, n.name))
		return
	}
	b.nodes = append(b.nodes, n)
	b.byName[n.name] = n
}

func missingSerde(node, which string) error {
	return fmt.Errorf("%w: node %q has no %s serde", ErrMissingSerde, node, which)
}

// AddSource adds a source node that reads topics and deserialises their
// records with the given serdes. Records keep the timestamps they have in
// Kafka. Topics marked with AddInternalTopic are resolved to
// "<application id>-<topic>" when tasks are made.
func AddSource[K, V any](b *Builder, name string, keySerde serde.Serde[K], valueSerde serde.Serde[V], topics ...string) {
	AddSourceWithExtractor(b, name, keySerde, valueSerde, nil, topics...)
}

// TimestampExtractor gives a source's records their event time (Kafka
// Streams' TimestampExtractor): it gets the deserialised key and value
// (zero values for null ones) and the timestamp the record has in Kafka
// (the zero time if it has none), and returns the time that the record
// carries downstream, truncated to milliseconds, and that advances the
// task's stream time. A result before the epoch (the zero time too) drops
// the record, counted as DropNegativeTimestamp.
type TimestampExtractor[K, V any] func(key K, value V, recordTimestamp time.Time) time.Time

// AddSourceWithExtractor is AddSource with a timestamp extractor (nil: the
// record's own timestamp). The source applies it before the task's stream
// time moves, so that stream-time punctuators, windows and the task's
// choice between its partitions all follow the extracted time. A record
// whose own timestamp is negative is passed to the extractor, which may
// repair it, rather than dropped.
func AddSourceWithExtractor[K, V any](b *Builder, name string, keySerde serde.Serde[K], valueSerde serde.Serde[V], extract TimestampExtractor[K, V], topics ...string) {
	n := &nodeSpec{name: name, kind: kindSource, topics: slices.Clone(topics),
		keyOut: reflect.TypeFor[K](), valOut: reflect.TypeFor[V]()}
	if keySerde == nil {
		n.problems = append(n.problems, missingSerde(name, "key"))
	}
	if valueSerde == nil {
		n.problems = append(n.problems, missingSerde(name, "value"))
	}
	if len(topics) == 0 || slices.Contains(topics, "") {
		n.problems = append(n.problems, fmt.Errorf("%w: source %q has no topic", ErrMissingTopic, name))
	}
	n.newInstance = func() instance {
		return &sourceNode[K, V]{nodeBase: nodeBase{name: name}, keySerde: keySerde, valueSerde: valueSerde, extract: extract}
	}
	b.add(n)
}

// AddProcessor adds a processor node under the given parents. Its input
// types must equal the output types of every parent.
func AddProcessor[KIn, VIn, KOut, VOut any](b *Builder, name string, supplier ProcessorSupplier[KIn, VIn, KOut, VOut], parents ...string) {
	n := &nodeSpec{name: name, kind: kindProcessor, parents: slices.Clone(parents),
		keyIn: reflect.TypeFor[KIn](), valIn: reflect.TypeFor[VIn](),
		keyOut: reflect.TypeFor[KOut](), valOut: reflect.TypeFor[VOut]()}
	if supplier == nil {
		n.problems = append(n.problems, fmt.Errorf("%w: processor %q has no supplier", ErrInvalid, name))
	}
	if len(parents) == 0 {
		n.problems = append(n.problems, fmt.Errorf("%w: processor %q has no parent", ErrInvalid, name))
	}
	n.newInstance = func() instance {
		return &procNode[KIn, VIn, KOut, VOut]{nodeBase: nodeBase{name: name}, proc: supplier()}
	}
	b.add(n)
}

// AddSink adds a sink node that serialises records and sends them to topic.
func AddSink[K, V any](b *Builder, name, topic string, keySerde serde.Serde[K], valueSerde serde.Serde[V], parents ...string) {
	n := addSink(b, name, keySerde, valueSerde, parents)
	n.topic = topic
	if topic == "" {
		n.problems = append(n.problems, fmt.Errorf("%w: sink %q has no topic", ErrMissingTopic, name))
	}
	n.newInstance = func() instance {
		return &sinkNode[K, V]{nodeBase: nodeBase{name: name}, topic: topic, keySerde: keySerde, valueSerde: valueSerde}
	}
}

// TopicExtractor chooses the topic of each record a sink writes.
type TopicExtractor[K, V any] func(rec Record[K, V]) (string, error)

// AddSinkFunc adds a sink node that chooses each record's topic with
// extract. Topics chosen this way are not internal and must exist.
func AddSinkFunc[K, V any](b *Builder, name string, extract TopicExtractor[K, V], keySerde serde.Serde[K], valueSerde serde.Serde[V], parents ...string) {
	n := addSink(b, name, keySerde, valueSerde, parents)
	n.dynamic = true
	if extract == nil {
		n.problems = append(n.problems, fmt.Errorf("%w: sink %q has no topic extractor", ErrMissingTopic, name))
	}
	n.newInstance = func() instance {
		return &sinkNode[K, V]{nodeBase: nodeBase{name: name}, extract: extract, keySerde: keySerde, valueSerde: valueSerde}
	}
}

func addSink[K, V any](b *Builder, name string, keySerde serde.Serde[K], valueSerde serde.Serde[V], parents []string) *nodeSpec {
	n := &nodeSpec{name: name, kind: kindSink, parents: slices.Clone(parents),
		keyIn: reflect.TypeFor[K](), valIn: reflect.TypeFor[V]()}
	if keySerde == nil {
		n.problems = append(n.problems, missingSerde(name, "key"))
	}
	if valueSerde == nil {
		n.problems = append(n.problems, missingSerde(name, "value"))
	}
	if len(parents) == 0 {
		n.problems = append(n.problems, fmt.Errorf("%w: sink %q has no parent", ErrInvalid, name))
	}
	b.add(n)
	return n
}

// AddStateStore declares a store and connects it to the given processors.
func (b *Builder) AddStateStore(spec state.Spec, processors ...string) {
	if spec.Name == "" {
		b.problems = append(b.problems, fmt.Errorf("%w: a store has an empty name", ErrInvalid))
		return
	}
	if b.hasStore(spec.Name) || b.hasGlobal(spec.Name) {
		b.problems = append(b.problems, fmt.Errorf("%w: store %q is added twice", ErrDuplicateName, spec.Name))
		return
	}
	b.stores = append(b.stores, spec)
	b.ConnectProcessorAndStateStores(processors, spec.Name)
}

// ConnectProcessorAndStateStores gives each named processor access to each
// named store. Stores may be added later; Build checks they exist.
func (b *Builder) ConnectProcessorAndStateStores(processors []string, stores ...string) {
	for _, p := range processors {
		n, ok := b.byName[p]
		if !ok || n.kind != kindProcessor {
			b.problems = append(b.problems, fmt.Errorf("%w: stores %v connected to %q, which is not a processor added before", ErrUnknownNode, stores, p))
			continue
		}
		for _, s := range stores {
			if !slices.Contains(n.stores, s) {
				n.stores = append(n.stores, s)
			}
		}
	}
}

func (b *Builder) hasStore(name string) bool {
	return slices.ContainsFunc(b.stores, func(s state.Spec) bool { return s.Name == name })
}

func (b *Builder) hasGlobal(name string) bool {
	return slices.ContainsFunc(b.globals, func(g GlobalStore) bool { return g.Spec.Name == name })
}

// AddInternalTopic marks topic as a repartition topic owned by the
// application: its real name is "<application id>-<topic>", the runtime
// creates it, and partitions (0 = as many as the upstream source topics)
// sets its partition count.
func (b *Builder) AddInternalTopic(topic string, partitions int) {
	if topic == "" || partitions < 0 {
		b.problems = append(b.problems, fmt.Errorf("%w: internal topic %q with %d partitions", ErrInvalid, topic, partitions))
		return
	}
	b.internal[topic] = partitions
}

// AddGlobalStore declares a global store filled from topic. Processors
// of every sub-topology may read it through StateStore.
func (b *Builder) AddGlobalStore(g GlobalStore) {
	switch {
	case g.Spec.Name == "":
		b.problems = append(b.problems, fmt.Errorf("%w: a global store has an empty name", ErrInvalid))
	case g.Topic == "":
		b.problems = append(b.problems, fmt.Errorf("%w: global store %q has no topic", ErrMissingTopic, g.Spec.Name))
	case b.hasStore(g.Spec.Name) || b.hasGlobal(g.Spec.Name):
		b.problems = append(b.problems, fmt.Errorf("%w: store %q is added twice", ErrDuplicateName, g.Spec.Name))
	default:
		// Its topic is its changelog: Kafka Streams refuses a logged
		// global store, and a zero Spec logs by default.
		g.Spec.LoggingDisabled = true
		b.globals = append(b.globals, g)
	}
}
