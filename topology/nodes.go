package topology

import (
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync/atomic"
	"time"

	"github.com/kafki/kafki/internal/kafkatime"
	"github.com/kafki/kafki/serde"
	"github.com/kafki/kafki/state"
)

// instance is one node of one task. Only the typed methods of its concrete
// type (process, forward) are on the per-record path; this interface is
// for wiring and lifecycle.
type instance interface {
	base() *nodeBase
	connect(child instance) error
	init() error
	close() error
}

// receiver is a node that takes Record[K, V]. Parents hold their children
// as receivers of their exact output type, so forwarding is a direct
// typed call with no boxing.
type receiver[K, V any] interface {
	process(rec Record[K, V]) error
}

type nodeBase struct {
	name   string
	task   *Task
	stores []string
	logger *slog.Logger
	// count is the records the node took, a plain increment by the task's
	// goroutine; Task.PublishCounts copies it to published for readers on
	// other goroutines, so that counting costs no atomic per record.
	count     int64
	published atomic.Int64
}

func (b *nodeBase) base() *nodeBase { return b }

// outputs is the typed child list of a source or processor.
type outputs[K, V any] struct {
	children []receiver[K, V]
	names    []string
}

func (o *outputs[K, V]) connect(parent string, child instance) error {
	r, ok := child.(receiver[K, V])
	if !ok {
		return fmt.Errorf("%w: %q cannot take the records of %q", ErrTypeMismatch, child.base().name, parent)
	}
	o.children = append(o.children, r)
	o.names = append(o.names, child.base().name)
	return nil
}

func (o *outputs[K, V]) forward(rec Record[K, V]) error {
	for _, c := range o.children {
		if err := c.process(rec); err != nil {
			return err
		}
	}
	return nil
}

// ErrUnknownChild is returned by ForwardTo for a name that is not a child.
var ErrUnknownChild = errors.New("topology: unknown child")

func (o *outputs[K, V]) forwardTo(parent, child string, rec Record[K, V]) error {
	for i, n := range o.names {
		if n == child {
			return o.children[i].process(rec)
		}
	}
	return fmt.Errorf("%w: %q is not a child of %q (children: %v)", ErrUnknownChild, child, parent, o.names)
}

type sourceNode[K, V any] struct {
	nodeBase
	keySerde   serde.Serde[K]
	valueSerde serde.Serde[V]
	extract    TimestampExtractor[K, V] // nil: the record's own timestamp
	out        outputs[K, V]
}

func (s *sourceNode[K, V]) connect(c instance) error { return s.out.connect(s.name, c) }
func (s *sourceNode[K, V]) init() error              { return nil }
func (s *sourceNode[K, V]) close() error             { return nil }

// processRaw deserialises raw, gives it its timestamp, advances the task's
// stream time and forwards it. Deserialisation failures come back as
// *DeserializationError so that the task can consult its handler.
func (s *sourceNode[K, V]) processRaw(raw *RawRecord) error {
	s.count++
	if s.extract == nil && raw.Timestamp < 0 {
		// Dropped before deserialising, as nothing could repair it.
		s.dropNegative(raw, raw.Timestamp)
		return nil
	}
	rec, err := s.deserialize(raw)
	if err != nil {
		return err
	}
	ts := raw.Timestamp
	if s.extract != nil {
		rec.Timestamp = s.extract(rec.Key, rec.Value, rec.Timestamp)
		if ts = rec.Timestamp.UnixMilli(); ts < 0 {
			s.dropNegative(raw, ts)
			return nil
		}
		// Kafka keeps milliseconds: downstream sees what a sink writes.
		rec.Timestamp = time.UnixMilli(ts)
	}
	s.task.observe(ts)
	return s.out.forward(rec)
}

// timestamp returns the timestamp raw would carry downstream: its own, or
// the extracted one, which costs a deserialisation. A record that cannot
// be deserialised keeps its own.
func (s *sourceNode[K, V]) timestamp(raw *RawRecord) int64 {
	if s.extract == nil {
		return raw.Timestamp
	}
	rec, err := s.deserialize(raw)
	if err != nil {
		return raw.Timestamp
	}
	return s.extract(rec.Key, rec.Value, rec.Timestamp).UnixMilli()
}

// dropNegative counts a record dropped for its timestamp at the task, not
// the node, like deserialisation failures (Kafka Streams' task-level
// dropped-records), whether the timestamp was its own or extracted.
func (s *sourceNode[K, V]) dropNegative(raw *RawRecord, ts int64) {
	s.logger.Warn("dropping record with negative timestamp", "topic", raw.Topic, "partition", raw.Partition,
		"offset", raw.Offset, "timestamp", ts, "extracted", s.extract != nil)
	s.task.dropped("", DropNegativeTimestamp)
}

func (s *sourceNode[K, V]) deserialize(raw *RawRecord) (Record[K, V], error) {
	rec := Record[K, V]{Timestamp: kafkatime.Time(raw.Timestamp), Headers: raw.Headers}
	var err error
	if raw.Key == nil {
		rec.NullKey = true
	} else if rec.Key, err = s.keySerde.Deserialize(raw.Topic, raw.Headers, raw.Key); err != nil {
		return rec, &DeserializationError{Topic: raw.Topic, Partition: raw.Partition, Offset: raw.Offset, Part: "key", Err: err}
	}
	if raw.Value == nil {
		rec.NullValue = true
	} else if rec.Value, err = s.valueSerde.Deserialize(raw.Topic, raw.Headers, raw.Value); err != nil {
		return rec, &DeserializationError{Topic: raw.Topic, Partition: raw.Partition, Offset: raw.Offset, Part: "value", Err: err}
	}
	return rec, nil
}

type procNode[KIn, VIn, KOut, VOut any] struct {
	nodeBase
	proc Processor[KIn, VIn, KOut, VOut]
	out  outputs[KOut, VOut]
}

func (p *procNode[KIn, VIn, KOut, VOut]) connect(c instance) error { return p.out.connect(p.name, c) }
func (p *procNode[KIn, VIn, KOut, VOut]) init() error {
	if p.proc == nil {
		return fmt.Errorf("%w: supplier of %q returned a nil processor", ErrInvalid, p.name)
	}
	return p.proc.Init(p)
}
func (p *procNode[KIn, VIn, KOut, VOut]) close() error { return p.proc.Close() }

func (p *procNode[KIn, VIn, KOut, VOut]) process(rec Record[KIn, VIn]) error {
	p.count++
	// The record context follows the record into each processor and back
	// out of it once the children are done, as in Kafka Streams: a store
	// written after a Forward sees this record's timestamp, not a child's.
	rc := p.task.rc
	ts, hs := rc.Timestamp, rc.Headers
	rc.Timestamp, rc.Headers = kafkatime.Millis(rec.Timestamp), rec.Headers
	err := p.proc.Process(rec)
	rc.Timestamp, rc.Headers = ts, hs
	if err != nil {
		return p.task.handleProcessingError(p.name, err)
	}
	return nil
}

// The procNode is its processor's context.

func (p *procNode[KIn, VIn, KOut, VOut]) Forward(rec Record[KOut, VOut]) error {
	return p.out.forward(rec)
}

func (p *procNode[KIn, VIn, KOut, VOut]) ForwardTo(child string, rec Record[KOut, VOut]) error {
	return p.out.forwardTo(p.name, child, rec)
}

func (p *procNode[KIn, VIn, KOut, VOut]) StateStore(name string) (state.Store, error) {
	if !slices.Contains(p.stores, name) {
		return nil, fmt.Errorf("%w: processor %q is not connected to store %q (connected: %v)", ErrStoreNotConnected, p.name, name, p.stores)
	}
	if s, ok := p.task.stores[name]; ok {
		return s, nil
	}
	if s, ok := p.task.cfg.GlobalStores[name]; ok {
		return s, nil
	}
	return nil, fmt.Errorf("%w: global store %q was not given to task %s", ErrStoreNotConnected, name, p.task.cfg.ID)
}

func (p *procNode[KIn, VIn, KOut, VOut]) Schedule(interval time.Duration, typ PunctuationType, fn Punctuator) (Cancellable, error) {
	return p.task.schedule(p.name, interval, typ, fn)
}

func (p *procNode[KIn, VIn, KOut, VOut]) RecordMetadata() (RecordMetadata, bool) {
	return p.task.meta, p.task.hasMeta
}

// RecordContext is the task's record context (timestamp and headers of the
// record being processed). A record cache sets it to an entry's context
// while it forwards the entry, so that a processor forwarding from a cache
// flush finds the headers of the write there.
func (p *procNode[KIn, VIn, KOut, VOut]) RecordContext() *state.RecordContext { return p.task.rc }

// ProcessorMetadata returns the value kept under key in the task's
// processor metadata (see Task.ProcessorMetadata): the DSL's emit-on-close
// aggregations keep there, under their store's name, the close time up
// to which they emitted, as Kafka Streams does.
func (p *procNode[KIn, VIn, KOut, VOut]) ProcessorMetadata(key string) (int64, bool) {
	v, ok := p.task.procMeta[key]
	return v, ok
}

// SetProcessorMetadata keeps v under key in the task's processor
// metadata, committed with the next offset commit.
func (p *procNode[KIn, VIn, KOut, VOut]) SetProcessorMetadata(key string, v int64) {
	if p.task.procMeta == nil {
		p.task.procMeta = map[string]int64{}
	}
	p.task.procMeta[key] = v
}

func (p *procNode[KIn, VIn, KOut, VOut]) RecordDropped(reason string) { p.task.dropped(p.name, reason) }
func (p *procNode[KIn, VIn, KOut, VOut]) TaskID() TaskID              { return p.task.cfg.ID }
func (p *procNode[KIn, VIn, KOut, VOut]) ApplicationID() string       { return p.task.cfg.ApplicationID }
func (p *procNode[KIn, VIn, KOut, VOut]) CurrentStreamTime() time.Time {
	return kafkatime.Time(p.task.streamTime)
}
func (p *procNode[KIn, VIn, KOut, VOut]) CurrentSystemTime() time.Time {
	return time.UnixMilli(p.task.now().UnixMilli())
}
func (p *procNode[KIn, VIn, KOut, VOut]) Logger() *slog.Logger { return p.logger }

type sinkNode[K, V any] struct {
	nodeBase
	topic      string // resolved at init
	extract    TopicExtractor[K, V]
	keySerde   serde.Serde[K]
	valueSerde serde.Serde[V]
	// keyApp and valueApp are set when both serdes append (serde.Appender)
	// and neither type is []byte (whose serde need not copy): the key and
	// value are then encoded into scratch and copied out in one
	// allocation, not two.
	keyApp   serde.Appender[K]
	valueApp serde.Appender[V]
	scratch  []byte
}

func (s *sinkNode[K, V]) connect(c instance) error {
	return fmt.Errorf("%w: sink %q cannot have children", ErrInvalid, s.name)
}
func (s *sinkNode[K, V]) init() error {
	if s.extract == nil {
		s.topic = s.task.topo.resolve(s.task.cfg.ApplicationID, s.topic)
	}
	ka, kok := s.keySerde.(serde.Appender[K])
	va, vok := s.valueSerde.(serde.Appender[V])
	_, kBytes := any(*new(K)).([]byte)
	_, vBytes := any(*new(V)).([]byte)
	if kok && vok && !kBytes && !vBytes {
		s.keyApp, s.valueApp = ka, va
	}
	return nil
}

// maxSinkScratch bounds the scratch buffer a sink keeps between records.
const maxSinkScratch = 64 << 10

// serialize encodes rec's key and value for topic (nil for null ones).
func (s *sinkNode[K, V]) serialize(topic string, rec Record[K, V]) (key, value []byte, err error) {
	if s.keyApp == nil {
		if !rec.NullKey {
			if key, err = s.keySerde.Serialize(topic, rec.Headers, rec.Key); err != nil {
				return nil, nil, fmt.Errorf("serialize key for %s: %w", topic, err)
			}
		}
		if !rec.NullValue {
			if value, err = s.valueSerde.Serialize(topic, rec.Headers, rec.Value); err != nil {
				return nil, nil, fmt.Errorf("serialize value for %s: %w", topic, err)
			}
		}
		return key, value, nil
	}
	buf := s.scratch[:0]
	if !rec.NullKey {
		if buf, err = s.keyApp.AppendSerialize(buf, topic, rec.Headers, rec.Key); err != nil {
			return nil, nil, fmt.Errorf("serialize key for %s: %w", topic, err)
		}
	}
	nk := len(buf)
	if !rec.NullValue {
		if buf, err = s.valueApp.AppendSerialize(buf, topic, rec.Headers, rec.Value); err != nil {
			return nil, nil, fmt.Errorf("serialize value for %s: %w", topic, err)
		}
	}
	if cap(buf) <= maxSinkScratch {
		s.scratch = buf[:0]
	}
	// The copy is the record's own: the producer holds it until the
	// broker acknowledges it. Capacities are cut so that an append to the
	// key cannot run into the value.
	out := make([]byte, len(buf))
	copy(out, buf)
	if !rec.NullKey {
		key = out[:nk:nk]
	}
	if !rec.NullValue {
		value = out[nk:]
	}
	return key, value, nil
}
func (s *sinkNode[K, V]) close() error { return nil }

func (s *sinkNode[K, V]) process(rec Record[K, V]) error {
	s.count++
	topic := s.topic
	if s.extract != nil {
		t, err := s.extract(rec)
		if err == nil && t == "" {
			err = fmt.Errorf("%w: topic extractor returned an empty topic", ErrMissingTopic)
		}
		if err != nil {
			return s.task.handleProcessingError(s.name, err)
		}
		topic = t
	}
	key, value, err := s.serialize(topic, rec)
	if err != nil {
		return s.task.handleProcessingError(s.name, err)
	}
	if err := s.task.cfg.Collector.Send(topic, -1, key, value, rec.Headers, kafkatime.Millis(rec.Timestamp)); err != nil {
		return &ProcessingError{Task: s.task.cfg.ID, Node: s.name, Meta: s.task.meta, HasMeta: s.task.hasMeta,
			Err: fmt.Errorf("send to %s: %w", topic, err)}
	}
	return nil
}
