package topologytest

import (
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/kafki/kafki/internal/kafkatime"
	"github.com/kafki/kafki/serde"
	"github.com/kafki/kafki/state"
	"github.com/kafki/kafki/topology"
)

// ErrUnknownTopic is returned for a topic the topology does not read.
var ErrUnknownTopic = errors.New("topologytest: topic not read by the topology")

// ErrUnknownStore is returned for a store the topology does not have.
var ErrUnknownStore = errors.New("topologytest: unknown store")

type config struct {
	appID     string
	start     time.Time
	opener    topology.StoreOpener
	logger    *slog.Logger
	noFlush   bool
	cacheSet  bool
	cache     int64
	onDeser   func(*topology.RawRecord, error) topology.ErrorAction
	onProcErr func(*topology.ProcessingError) topology.ErrorAction
	resume    int64
	resumeMD  map[string]int64
}

// Option configures a Driver.
type Option func(*config)

// ApplicationID sets the application id that prefixes internal topics
// (default "topologytest").
func ApplicationID(id string) Option { return func(c *config) { c.appID = id } }

// StartTime sets the initial wall-clock time (default: Unix epoch + 0).
func StartTime(t time.Time) Option { return func(c *config) { c.start = t } }

// StoreOpener replaces the default engine, which opens every store
// (key-value, window, session) in memory whatever its spec says. The
// opener returns the engine store; the driver builds the same store stack
// over it as the runtime (state.BuildStore: record cache, change-logging,
// engine).
func StoreOpener(o topology.StoreOpener) Option { return func(c *config) { c.opener = o } }

// CacheMaxBytes sets the record-cache budget shared by all caching stores
// (statestore.cache.max.bytes; default 10 MiB, as the runtime's). 0 turns
// caching off: every update is forwarded at once.
func CacheMaxBytes(n int64) Option { return func(c *config) { c.cache, c.cacheSet = n, true } }

// Logger sets the tasks' logger (default: discard).
func Logger(l *slog.Logger) Option { return func(c *config) { c.logger = l } }

// ManualFlush stops the driver from flushing the tasks after each piped
// record, as Kafka Streams' test driver does, so that tests can watch
// record caches hold and merge updates until Flush is called.
func ManualFlush() Option { return func(c *config) { c.noFlush = true } }

// ResumeStreamTime starts every task at stream time t, as the runtime
// resumes a task after a restart from the stream time committed with its
// offsets (see topology.TaskConfig.ResumeStreamTime); pass what a
// processor's CurrentStreamTime was before the restart.
func ResumeStreamTime(t time.Time) Option {
	return func(c *config) { c.resume = kafkatime.Millis(t) }
}

// ResumeProcessorMetadata starts every task with the processor metadata
// md, as the runtime resumes a task with the metadata committed with its
// offsets (see topology.TaskConfig.ResumeProcessorMetadata); pass what
// ProcessorMetadata returned before a restart.
func ResumeProcessorMetadata(md map[string]int64) Option {
	return func(c *config) { c.resumeMD = md }
}

// OnDeserializationError sets the tasks' deserialisation-error handler.
func OnDeserializationError(h func(*topology.RawRecord, error) topology.ErrorAction) Option {
	return func(c *config) { c.onDeser = h }
}

// OnProcessingError sets the tasks' processing-error handler.
func OnProcessingError(h func(*topology.ProcessingError) topology.ErrorAction) Option {
	return func(c *config) { c.onProcErr = h }
}

// Driver runs a topology in memory. It is not safe for concurrent use.
type Driver struct {
	cfg      config
	topo     *topology.Topology
	tasks    []*topology.Task
	byTopic  map[string]*topology.Task // resolved source topic -> task
	internal map[string]bool
	globals  map[string]state.KeyValueStore // global topic -> its store
	outputs  map[string][]topology.RawRecord
	queue    []topology.RawRecord
	offsets  map[string]int64
	stores   map[string]state.Store
	// changelogs are the changelog records of logged stores, by store.
	changelogs map[string][]topology.RawRecord
	logOffsets map[string]int64
	rcs        []*state.RecordContext
	specs      map[string]state.Spec
	now        time.Time
	drops      map[string]int
	closed     bool
}

// New starts one task per sub-topology of topo. Close it when done.
func New(topo *topology.Topology, opts ...Option) (*Driver, error) {
	cfg := config{appID: "topologytest", start: time.UnixMilli(0), cache: 10 << 20}
	for _, o := range opts {
		o(&cfg)
	}
	if cfg.cache < 0 {
		return nil, fmt.Errorf("topologytest: negative cache size %d", cfg.cache)
	}
	d := &Driver{cfg: cfg, topo: topo, byTopic: map[string]*topology.Task{}, internal: map[string]bool{},
		globals: map[string]state.KeyValueStore{},
		outputs: map[string][]topology.RawRecord{}, offsets: map[string]int64{},
		stores: map[string]state.Store{}, specs: map[string]state.Spec{}, now: cfg.start, drops: map[string]int{},
		changelogs: map[string][]topology.RawRecord{}, logOffsets: map[string]int64{}}
	var cache *state.ThreadCache
	if cfg.cache > 0 {
		cache = state.NewThreadCache(cfg.cache)
	}
	opener := cfg.opener
	if opener == nil {
		opener = openInMemory
	}
	globals := map[string]state.Store{}
	for _, g := range topo.GlobalStores() {
		s, err := opener(g.Spec)
		if err != nil {
			return nil, errors.Join(fmt.Errorf("topologytest: open global store %q: %w", g.Spec.Name, err), d.Close())
		}
		globals[g.Spec.Name] = s
		d.stores[g.Spec.Name] = s
		kv, ok := s.(state.KeyValueStore)
		if !ok {
			return nil, errors.Join(fmt.Errorf("topologytest: global store %q is not a key-value store", g.Spec.Name), d.Close())
		}
		d.globals[g.Topic] = kv
	}
	for _, it := range topo.InternalTopics(cfg.appID) {
		d.internal[it.Name] = true
	}
	for _, sub := range topo.SubTopologies(cfg.appID) {
		rc := &state.RecordContext{}
		d.rcs = append(d.rcs, rc)
		task, err := topo.NewTask(topology.TaskConfig{
			ID:            topology.TaskID{SubTopology: sub.ID},
			ApplicationID: cfg.appID,
			RecordContext: rc,
			Stores: func(spec state.Spec) (state.Store, error) {
				engine, err := opener(spec)
				if err != nil {
					return nil, err
				}
				s, err := state.BuildStore(spec, engine, state.StackConfig{
					Changelog:     state.Changelog{Topic: changelogTopic(cfg.appID, spec.Name), Sink: changelogSink{d, spec.Name}},
					RecordContext: rc,
					ThreadCache:   cache,
				})
				if err != nil {
					return nil, errors.Join(err, engine.Close())
				}
				d.stores[spec.Name] = s
				d.specs[spec.Name] = spec
				return s, nil
			},
			GlobalStores:           globals,
			Collector:              collector{d},
			Logger:                 cfg.logger,
			Now:                    func() time.Time { return d.now },
			OnDeserializationError: cfg.onDeser,
			OnProcessingError:      cfg.onProcErr,
			OnDropped:              func(node, reason string) { d.drops[reason]++ },
			ResumeStreamTime:       cfg.resume,

			ResumeProcessorMetadata: cfg.resumeMD,
		})
		if err != nil {
			return nil, errors.Join(err, d.Close())
		}
		d.tasks = append(d.tasks, task)
		for _, topic := range sub.SourceTopics {
			d.byTopic[topic] = task
		}
	}
	return d, nil
}

func openInMemory(spec state.Spec) (state.Store, error) {
	spec.Engine = state.InMemory // key-value, window and session stores alike
	return state.Open(spec, "")
}

// changelogTopic is Kafka Streams' (and the runtime's) changelog topic
// name.
func changelogTopic(appID, store string) string { return appID + "-" + store + "-changelog" }

// changelogSink keeps what a logged store writes to its changelog, for
// ReadChangelog.
type changelogSink struct {
	d     *Driver
	store string
}

func (c changelogSink) Send(topic string, partition int32, key, value []byte, headers []serde.Header, ts int64) error {
	d := c.d
	d.changelogs[c.store] = append(d.changelogs[c.store], topology.RawRecord{Topic: topic, Partition: partition,
		Offset: d.logOffsets[topic], Key: key, Value: value, Timestamp: ts, Headers: headers})
	d.logOffsets[topic]++
	return nil
}

// ReadChangelog returns and consumes the records the logged store has
// written to its changelog topic (<application id>-<store>-changelog) so
// far: with caching, one per key and flush; without, one per update.
func (d *Driver) ReadChangelog(store string) []topology.RawRecord {
	out := d.changelogs[store]
	delete(d.changelogs, store)
	return out
}

type collector struct{ d *Driver }

func (c collector) Send(topic string, partition int32, key, value []byte, headers []serde.Header, ts int64) error {
	d := c.d
	rec := topology.RawRecord{Topic: topic, Partition: 0, Offset: d.offsets[topic], Key: key, Value: value, Timestamp: ts, Headers: headers}
	d.offsets[topic]++
	if !d.internal[topic] {
		d.outputs[topic] = append(d.outputs[topic], rec)
	}
	if _, ok := d.byTopic[topic]; ok {
		d.queue = append(d.queue, rec)
	}
	return nil
}

// PipeRaw feeds one raw record into the topology (Offset and Partition are
// assigned by the driver) and processes everything it causes: records fed
// back through repartition topics and, unless ManualFlush, cache flushes.
func (d *Driver) PipeRaw(rec topology.RawRecord) error {
	if d.closed {
		return errors.New("topologytest: driver is closed")
	}
	if g, ok := d.globals[rec.Topic]; ok {
		// As the runtime does: a global topic is its store's changelog.
		if rec.Key == nil {
			return nil
		}
		return g.Put(rec.Key, rec.Value)
	}
	if _, ok := d.byTopic[rec.Topic]; !ok {
		return fmt.Errorf("%w: %q", ErrUnknownTopic, rec.Topic)
	}
	rec.Partition, rec.Offset = 0, d.offsets[rec.Topic]
	d.offsets[rec.Topic]++
	d.queue = append(d.queue, rec)
	if err := d.drain(); err != nil {
		return err
	}
	if d.cfg.noFlush {
		return nil
	}
	return d.Flush()
}

// drain processes queued records until none are left.
func (d *Driver) drain() error {
	for len(d.queue) > 0 {
		rec := d.queue[0]
		d.queue = d.queue[1:]
		if err := d.byTopic[rec.Topic].Process(&rec); err != nil {
			d.queue = nil
			return err
		}
	}
	return nil
}

// Flush flushes every task (record caches forward what they hold) and
// processes what that produces.
func (d *Driver) Flush() error {
	for _, t := range d.tasks {
		if err := t.Flush(); err != nil {
			return err
		}
		if err := d.drain(); err != nil {
			return err
		}
	}
	return nil
}

// AdvanceWallClockTime moves the wall clock forward by by and fires the
// wall-clock punctuators that became due.
func (d *Driver) AdvanceWallClockTime(by time.Duration) error {
	if by < 0 {
		return fmt.Errorf("topologytest: cannot move the clock back by %v", by)
	}
	d.now = d.now.Add(by)
	for _, t := range d.tasks {
		if err := t.Punctuate(d.now); err != nil {
			return err
		}
		if err := d.drain(); err != nil {
			return err
		}
	}
	if d.cfg.noFlush {
		return nil
	}
	return d.Flush()
}

// WallClockTime is the driver's current wall-clock time.
func (d *Driver) WallClockTime() time.Time { return d.now }

// StateStore returns a store by name, of any task or a global store.
func (d *Driver) StateStore(name string) (state.Store, error) {
	s, ok := d.stores[name]
	if !ok {
		return nil, fmt.Errorf("%w: %q", ErrUnknownStore, name)
	}
	return s, nil
}

// ReadRaw returns and consumes the records written to topic so far.
func (d *Driver) ReadRaw(topic string) []topology.RawRecord {
	out := d.outputs[topic]
	delete(d.outputs, topic)
	return out
}

// Dropped returns how many records were dropped for reason so far (see
// topology.TaskConfig.OnDropped).
func (d *Driver) Dropped(reason string) int { return d.drops[reason] }

// ProcessorMetadata is the processor metadata of the tasks, as the
// runtime would commit it with their offsets (for ResumeProcessorMetadata
// after a restart); nil when empty.
func (d *Driver) ProcessorMetadata() map[string]int64 {
	var out map[string]int64
	for _, t := range d.tasks {
		for k, v := range t.ProcessorMetadata() {
			if out == nil {
				out = map[string]int64{}
			}
			out[k] = v
		}
	}
	return out
}

// Close closes every task and store.
func (d *Driver) Close() error {
	if d.closed {
		return nil
	}
	d.closed = true
	var errs []error
	for _, t := range d.tasks {
		errs = append(errs, t.Close())
	}
	for _, g := range d.topo.GlobalStores() {
		if s, ok := d.stores[g.Spec.Name]; ok {
			errs = append(errs, s.Close())
		}
	}
	return errors.Join(errs...)
}
