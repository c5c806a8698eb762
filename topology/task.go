package topology

import (
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"strconv"
	"time"

	"github.com/kafki/kafki/serde"
	"github.com/kafki/kafki/state"
)

// TaskID names a task: a sub-topology and a partition number of its input
// topics.
type TaskID struct {
	SubTopology int
	Partition   int32
}

// String is "1_3", as Kafka Streams prints task ids.
func (id TaskID) String() string {
	return strconv.Itoa(id.SubTopology) + "_" + strconv.FormatInt(int64(id.Partition), 10)
}

// RawRecord is a record as it arrives from Kafka.
type RawRecord struct {
	Topic      string
	Partition  int32
	Offset     int64
	Key, Value []byte // nil is Kafka's null
	Timestamp  int64  // epoch ms
	Headers    []serde.Header
}

// RecordCollector receives everything a task writes: sink records and, via
// the runtime's store wrappers, changelog records. Partition -1 asks the
// collector to partition by key with Kafka's default (murmur2) partitioner.
type RecordCollector interface {
	Send(topic string, partition int32, key, value []byte, headers []serde.Header, timestamp int64) error
}

// StoreOpener opens the physical store for one store spec of one task,
// with whatever engine, logging and caching wrappers the spec asks for.
type StoreOpener func(spec state.Spec) (state.Store, error)

// ErrorAction is what an error handler tells the task to do.
type ErrorAction int

const (
	// Fail stops processing: Process returns the error.
	Fail ErrorAction = iota
	// Continue drops the record, counts it, and goes on.
	Continue
)

// Reasons under which the task itself counts dropped records.
const (
	DropDeserializationError = "deserialization-error"
	DropProcessingError      = "processing-error"
	DropNegativeTimestamp    = "negative-timestamp"
)

// TaskConfig configures one task.
type TaskConfig struct {
	ID TaskID
	// ApplicationID prefixes internal topics:
	// "<ApplicationID>-<name>-repartition".
	ApplicationID string
	// Stores opens the task's stores; it is required when the
	// sub-topology has any.
	Stores StoreOpener
	// GlobalStores are the opened global stores, by name, that processors
	// may read.
	GlobalStores map[string]state.Store
	// Collector receives what sinks write; required.
	Collector RecordCollector
	// Logger; nil discards.
	Logger *slog.Logger
	// Now is the wall clock; nil is time.Now.
	Now func() time.Time
	// OnDeserializationError decides about a record whose key or value
	// cannot be deserialised; nil fails (Kafka Streams'
	// LogAndFailExceptionHandler).
	OnDeserializationError func(rec *RawRecord, err error) ErrorAction
	// OnProcessingError decides about an error returned by a processor;
	// nil fails. Continue drops the record at that node only.
	OnProcessingError func(err *ProcessingError) ErrorAction
	// OnDropped counts dropped records by node and reason, for metrics.
	OnDropped func(node, reason string)
	// RecordContext is where the task keeps the context of the record
	// being processed (timestamp and headers of the record each processor
	// receives, origin of the input record); the store stack built with
	// the same pointer (state.BuildStore) reads it. nil: the task keeps
	// its own.
	RecordContext *state.RecordContext
	// ResumeStreamTime is the stream time the task had when its input
	// offsets were last committed (the runtime keeps it in the commit's
	// metadata, as Kafka Streams does), so that windows, grace periods,
	// joins and suppression go on where they were: processors see it as
	// CurrentStreamTime from Init on. Zero or negative: a new task.
	ResumeStreamTime int64
	// ResumeProcessorMetadata is the processor metadata committed with
	// the input offsets (Kafka Streams' ProcessorMetadata): what the
	// processors kept there before a restart, such as the close time up
	// to which an emit-on-close aggregation emitted. nil: none.
	ResumeProcessorMetadata map[string]int64
}

// ErrStoreNotConnected is returned by StateStore for a store the processor
// was not connected to.
var ErrStoreNotConnected = errors.New("topology: store not connected")

// ErrUnknownTopic is returned by Process for a topic the task does not read.
var ErrUnknownTopic = errors.New("topology: topic not read by this task")

// DeserializationError is a source record whose key or value could not be
// deserialised.
type DeserializationError struct {
	Topic     string
	Partition int32
	Offset    int64
	Part      string // "key" or "value"
	Err       error
}

func (e *DeserializationError) Error() string {
	return fmt.Sprintf("deserialize %s of %s/%d@%d: %v", e.Part, e.Topic, e.Partition, e.Offset, e.Err)
}

func (e *DeserializationError) Unwrap() error { return e.Err }

// ProcessingError is an error returned by a node, with the task and the
// input record it was processing (HasMeta is false in punctuators).
type ProcessingError struct {
	Task    TaskID
	Node    string
	Meta    RecordMetadata
	HasMeta bool
	Err     error
}

func (e *ProcessingError) Error() string {
	if e.HasMeta {
		return fmt.Sprintf("task %s, node %q, record %s/%d@%d: %v", e.Task, e.Node, e.Meta.Topic, e.Meta.Partition, e.Meta.Offset, e.Err)
	}
	return fmt.Sprintf("task %s, node %q: %v", e.Task, e.Node, e.Err)
}

func (e *ProcessingError) Unwrap() error { return e.Err }

// rawSource is the untyped entry point of a source node.
type rawSource interface {
	processRaw(raw *RawRecord) error
	timestamp(raw *RawRecord) int64
}

// Task runs one sub-topology for one partition. It is not safe for
// concurrent use: the runtime drives each task from one goroutine.
type Task struct {
	topo       *Topology
	cfg        TaskConfig
	logger     *slog.Logger
	instances  []instance // topological order
	sources    map[string]rawSource
	stores     map[string]state.Store
	storeOrder []string
	streamTime int64
	meta       RecordMetadata
	hasMeta    bool
	raw        *RawRecord
	rc         *state.RecordContext
	punct      punctuations
	closed     bool
	// procMeta is the processor metadata (see ProcessorMetadata).
	procMeta map[string]int64
}

// NewTask opens the stores of sub-topology cfg.ID.SubTopology through
// cfg.Stores, makes its processors and calls their Init.
func (t *Topology) NewTask(cfg TaskConfig) (*Task, error) {
	if cfg.ID.SubTopology < 0 || cfg.ID.SubTopology >= len(t.subs) {
		return nil, fmt.Errorf("%w: task %s: no sub-topology %d", ErrInvalid, cfg.ID, cfg.ID.SubTopology)
	}
	if cfg.Collector == nil {
		return nil, fmt.Errorf("%w: task %s: no record collector", ErrInvalid, cfg.ID)
	}
	sub := t.subs[cfg.ID.SubTopology]
	if len(sub.stores) > 0 && cfg.Stores == nil {
		return nil, fmt.Errorf("%w: task %s: no store opener for stores %v", ErrInvalid, cfg.ID, sub.stores)
	}
	logger := cfg.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	task := &Task{
		topo: t, cfg: cfg, streamTime: -1,
		logger:  logger.With("task", cfg.ID.String()),
		sources: map[string]rawSource{},
		stores:  map[string]state.Store{},
	}
	if cfg.ResumeStreamTime > 0 {
		task.streamTime = cfg.ResumeStreamTime
	}
	if len(cfg.ResumeProcessorMetadata) > 0 {
		task.procMeta = maps.Clone(cfg.ResumeProcessorMetadata)
	}
	if task.cfg.Now == nil {
		task.cfg.Now = time.Now
	}
	task.rc = cfg.RecordContext
	if task.rc == nil {
		task.rc = &state.RecordContext{}
	}
	fail := func(err error) (*Task, error) {
		return nil, errors.Join(err, task.closeStores())
	}
	for _, name := range sub.stores {
		s, err := cfg.Stores(t.stores[name])
		if err != nil {
			return fail(fmt.Errorf("task %s: open store %q: %w", cfg.ID, name, err))
		}
		if s == nil {
			return fail(fmt.Errorf("%w: task %s: store opener returned nil for %q", ErrInvalid, cfg.ID, name))
		}
		task.stores[name] = s
		task.storeOrder = append(task.storeOrder, name)
	}
	byName := map[string]instance{}
	for _, n := range sub.nodes {
		in := n.newInstance()
		b := in.base()
		b.task, b.stores = task, n.stores
		b.logger = task.logger.With("node", n.name)
		byName[n.name] = in
		task.instances = append(task.instances, in)
		if n.kind == kindSource {
			for _, topic := range n.topics {
				task.sources[t.resolve(cfg.ApplicationID, topic)] = in.(rawSource)
			}
		}
	}
	for _, n := range sub.nodes {
		for _, c := range t.children[n.name] {
			if err := byName[n.name].connect(byName[c]); err != nil {
				return fail(err)
			}
		}
	}
	for i, in := range task.instances {
		if err := in.init(); err != nil {
			err = fmt.Errorf("task %s: init %q: %w", cfg.ID, in.base().name, err)
			for _, done := range task.instances[:i] {
				err = errors.Join(err, done.close())
			}
			return fail(err)
		}
	}
	return task, nil
}

// PublishCounts makes the records counted per node since the last call
// visible to NodeCounts. The runtime calls it once per batch of records.
func (t *Task) PublishCounts() {
	for _, in := range t.instances {
		b := in.base()
		b.published.Store(b.count)
	}
}

// NodeCounts calls fn with every node of the task and the records it took
// (Kafka Streams' per-node process-total) as of the last PublishCounts, in
// topological order. Unlike the rest of Task it is safe to call from any
// goroutine.
func (t *Task) NodeCounts(fn func(node string, processed int64)) {
	for _, in := range t.instances {
		b := in.base()
		fn(b.name, b.published.Load())
	}
}

// ID returns the task's id.
func (t *Task) ID() TaskID { return t.cfg.ID }

// Process runs one record from one of the task's source topics through the
// sub-topology, then fires the stream-time punctuators that are due.
func (t *Task) Process(rec *RawRecord) error {
	src, ok := t.sources[rec.Topic]
	if !ok {
		return fmt.Errorf("%w: task %s got a record of %q", ErrUnknownTopic, t.cfg.ID, rec.Topic)
	}
	t.meta = RecordMetadata{Topic: rec.Topic, Partition: rec.Partition, Offset: rec.Offset}
	t.hasMeta, t.raw = true, rec
	*t.rc = state.RecordContext{Timestamp: rec.Timestamp, Headers: rec.Headers, Topic: rec.Topic,
		Partition: rec.Partition, Offset: rec.Offset}
	err := src.processRaw(rec)
	t.hasMeta, t.raw = false, nil
	if err != nil {
		var de *DeserializationError
		if !errors.As(err, &de) {
			return err
		}
		if t.cfg.OnDeserializationError == nil || t.cfg.OnDeserializationError(rec, de) != Continue {
			return fmt.Errorf("task %s: %w", t.cfg.ID, err)
		}
		t.logger.Warn("skipping record that cannot be deserialised", "err", err)
		t.dropped("", DropDeserializationError)
	}
	return t.punct.fire(t, StreamTime, t.streamTime)
}

// observe advances stream time to ts. Sources call it with each record's
// final timestamp (extracted, when the source has an extractor) before
// forwarding it, so that stream time never counts a dropped record.
func (t *Task) observe(ts int64) {
	if ts > t.streamTime {
		t.streamTime = ts
	}
}

// RecordTime returns the timestamp rec will carry in the task: the one its
// source's timestamp extractor gives, or its own when the source has none
// (then without deserialising it). The runtime orders the records of a
// task's partitions by it, as Kafka Streams orders by extracted time. A
// record the task does not read, or cannot deserialise, keeps its own.
func (t *Task) RecordTime(rec *RawRecord) int64 {
	src, ok := t.sources[rec.Topic]
	if !ok {
		return rec.Timestamp
	}
	return src.timestamp(rec)
}

// Punctuate fires the wall-clock punctuators due at now.
func (t *Task) Punctuate(now time.Time) error {
	return t.punct.fire(t, WallClockTime, now.UnixMilli())
}

// RecordContext is the task's record context (see
// TaskConfig.RecordContext).
func (t *Task) RecordContext() *state.RecordContext { return t.rc }

// StreamTime is the largest timestamp processed so far, or -1.
func (t *Task) StreamTime() int64 { return t.streamTime }

// ProcessorMetadata is a copy of the task's processor metadata, which
// the runtime commits with the input offsets (Kafka Streams'
// ProcessorMetadata) and hands back as TaskConfig.ResumeProcessorMetadata
// after a restart; nil when empty.
func (t *Task) ProcessorMetadata() map[string]int64 {
	if len(t.procMeta) == 0 {
		return nil
	}
	return maps.Clone(t.procMeta)
}

// Flush flushes the stores in the order they were added; caching stores
// forward what they hold downstream as they flush. The runtime calls it
// before every commit.
func (t *Task) Flush() error {
	for _, name := range t.storeOrder {
		if err := t.stores[name].Flush(); err != nil {
			return fmt.Errorf("task %s: flush store %q: %w", t.cfg.ID, name, err)
		}
	}
	return nil
}

// Close closes the processors, then the stores. It does not flush.
func (t *Task) Close() error {
	if t.closed {
		return nil
	}
	t.closed = true
	t.punct.cancelAll()
	var errs []error
	for _, in := range t.instances {
		if err := in.close(); err != nil {
			errs = append(errs, fmt.Errorf("task %s: close %q: %w", t.cfg.ID, in.base().name, err))
		}
	}
	errs = append(errs, t.closeStores())
	return errors.Join(errs...)
}

func (t *Task) closeStores() error {
	var errs []error
	for _, name := range t.storeOrder {
		if err := t.stores[name].Close(); err != nil {
			errs = append(errs, fmt.Errorf("task %s: close store %q: %w", t.cfg.ID, name, err))
		}
	}
	return errors.Join(errs...)
}

func (t *Task) now() time.Time { return t.cfg.Now() }

func (t *Task) dropped(node, reason string) {
	if t.cfg.OnDropped != nil {
		t.cfg.OnDropped(node, reason)
	}
}

// handleProcessingError turns an error a node returned into the task's
// decision. Errors already decided further down pass through unchanged.
func (t *Task) handleProcessingError(node string, err error) error {
	var pe *ProcessingError
	if errors.As(err, &pe) {
		return err
	}
	pe = &ProcessingError{Task: t.cfg.ID, Node: node, Meta: t.meta, HasMeta: t.hasMeta, Err: err}
	if t.cfg.OnProcessingError != nil && t.cfg.OnProcessingError(pe) == Continue {
		t.logger.Warn("dropping record after processing error", "node", node, "err", err)
		t.dropped(node, DropProcessingError)
		return nil
	}
	return pe
}
