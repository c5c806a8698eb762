package runtime

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/kafki/kafki/changelog"
	"github.com/kafki/kafki/serde"
	"github.com/kafki/kafki/state"
	"github.com/kafki/kafki/topology"
	"github.com/twmb/franz-go/pkg/kgo"
)

func timeFromMillis(ms int64) time.Time { return time.UnixMilli(ms) }

// partQueue buffers the fetched, unprocessed records of one input partition
// of a task.
type partQueue struct {
	topic     string
	partition int32
	recs      []*kgo.Record
	head      int
	// next is the offset to commit: after the last processed record.
	next    kgo.EpochOffset
	dirty   bool // processed since the last commit
	paused  bool
	hwm     int64
	started bool
	// headRec and headTS cache the extracted time of the head record
	// (see activeTask.headTime).
	headRec *kgo.Record
	headTS  int64
	// partTime is the partition time (Kafka Streams' RecordQueue
	// partition time): the largest extracted timestamp of the records
	// taken from the queue, or the one committed before; -1: none.
	partTime int64
}

func (q *partQueue) len() int { return len(q.recs) - q.head }

// openedStore is one store of a task or standby: the store handed to the
// topology (with its logging and caching wrappers) and the engine store
// underneath.
type openedStore struct {
	spec    state.Spec
	store   state.Store // what processors use
	inner   state.Store // the engine store, restored directly
	logTP   changelog.TopicPartition
	persist bool
	// trusted is OpenStore's verdict: the checkpointed offset of the store
	// matches its content. An untrusted store restores from the beginning.
	trusted bool
	// wrap puts the wrappers over an engine store (again after a reset).
	wrap func(inner state.Store) (state.Store, error)
}

// activeTask is a task this thread processes.
type activeTask struct {
	id       topology.TaskID
	th       *streamThread
	task     *topology.Task
	dir      *changelog.TaskDir
	stores   []*openedStore
	queues   []*partQueue
	byTopic  map[string]*partQueue
	counters *taskCounters
	coll     *collector
	// restored are the checkpoint offsets as of the end of restoration;
	// the collector's acknowledged offsets move them forward.
	restored changelog.Offsets
	// rc is the task's record context, shared by the topology task and
	// its store stack.
	rc  state.RecordContext
	raw topology.RawRecord
	// resumed is what was committed with the input offsets (partition
	// times, stream time, processor metadata), fetched when the task is
	// created.
	resumed committedTimes
}

func (t *activeTask) handlerContext() HandlerContext {
	return HandlerContext{TaskID: t.id, ApplicationID: t.th.app.appID, Logger: t.th.logger, Collector: t.coll,
		Topic: t.raw.Topic, Partition: t.raw.Partition, Offset: t.raw.Offset}
}

// lockTaskDir locks the task's state directory, waiting while another
// thread of this process still holds it (a task moving between threads, a
// standby being promoted).
func lockTaskDir(ctx context.Context, sd *changelog.StateDir, id topology.TaskID, wait time.Duration) (*changelog.TaskDir, error) {
	deadline := time.Now().Add(wait)
	for {
		dir, err := sd.LockTask(id.String())
		if err == nil {
			return dir, nil
		}
		if !errors.Is(err, changelog.ErrStateDirLocked) || time.Now().After(deadline) {
			return nil, err
		}
		select {
		case <-ctx.Done():
			return nil, err
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// openStores opens the engine stores of a sub-topology's task in dir
// (changelog.OpenStore: a foreign or corrupt directory is wiped and its
// checkpoint entry dropped) and builds the store stack over each
// (state.BuildStore, the place the test driver builds its stores too).
// Standbys pass no collector and no cache: they write nothing.
func openStores(specs []state.Spec, appID string, id topology.TaskID, dir *changelog.TaskDir, coll *collector,
	rc *state.RecordContext, cache *state.ThreadCache) ([]*openedStore, error) {
	var out []*openedStore
	for _, spec := range specs {
		var logTP changelog.TopicPartition
		if !spec.LoggingDisabled {
			logTP = changelog.TopicPartition{Topic: changelog.ChangelogTopic(appID, spec.Name), Partition: id.Partition}
		}
		inner, trusted, err := changelog.OpenStore(dir, spec, changelog.StoreOptions{Changelog: logTP})
		if err != nil {
			closeStores(out)
			return nil, fmt.Errorf("open store %s: %w", spec.Name, err)
		}
		os := &openedStore{spec: spec, inner: inner, logTP: logTP, persist: inner.Persistent(), trusted: trusted}
		cfg := state.StackConfig{RecordContext: rc, ThreadCache: cache}
		if coll != nil && !spec.LoggingDisabled {
			cfg.Changelog = state.Changelog{Topic: logTP.Topic, Partition: logTP.Partition, Sink: coll.changelogSink(logTP)}
		}
		os.wrap = func(inner state.Store) (state.Store, error) { return state.BuildStore(spec, inner, cfg) }
		out = append(out, os)
		if os.store, err = os.wrap(inner); err != nil {
			closeStores(out)
			return nil, err
		}
	}
	return out, nil
}

func closeStores(stores []*openedStore) {
	for _, s := range stores {
		s.inner.Close()
	}
}

// restoreJobs returns the restoration of every logged store from its
// checkpointed offset, or from the beginning for a store whose checkpoint
// is not trusted (in-memory, new, wiped or reset).
func restoreJobs(stores []*openedStore, cp changelog.Offsets) ([]changelog.Job, error) {
	var jobs []changelog.Job
	for _, s := range stores {
		if s.spec.LoggingDisabled {
			continue
		}
		r, err := changelog.NewRestorable(s.inner)
		if err != nil {
			return nil, err
		}
		start := int64(0)
		if s.trusted {
			start = cp[s.logTP]
		}
		jobs = append(jobs, changelog.Job{Store: r, Partition: s.logTP, Start: start})
	}
	return jobs, nil
}

// resetStore wipes a store whose checkpoint is outside its changelog and
// reopens it empty, with its wrappers, to be restored from the beginning.
func resetStore(dir *changelog.TaskDir, s *openedStore) error {
	inner, err := changelog.ResetStore(dir, s.spec, s.inner, changelog.StoreOptions{Changelog: s.logTP})
	if err != nil {
		// The old engine store is closed: keep closing harmless.
		return fmt.Errorf("reset store %s: %w", s.spec.Name, err)
	}
	s.inner, s.trusted = inner, false
	if s.store, err = s.wrap(inner); err != nil {
		return fmt.Errorf("reset store %s: %w", s.spec.Name, err)
	}
	return nil
}

// newActiveTask locks and opens the stores of task id (Created). The
// state updater restores them (Restoring), then startTask makes the
// topology task on top of them (Running). Records fetched for the task
// meanwhile wait in its queues.
func (th *streamThread) newActiveTask(ctx context.Context, id topology.TaskID) (_ *activeTask, err error) {
	sub, ok := th.app.subByID[id.SubTopology]
	if !ok {
		return nil, fmt.Errorf("task %s: no sub-topology %d", id, id.SubTopology)
	}
	t := &activeTask{id: id, th: th, byTopic: map[string]*partQueue{}, counters: th.app.metrics.task(id.String())}
	t.counters.standby.Store(false)
	t.coll = newCollector(th.cl, t)
	if len(sub.Stores) > 0 {
		if t.dir, err = lockTaskDir(ctx, th.app.stateDir, id, th.app.cfg.rebalanceTimeout/2); err != nil {
			return nil, fmt.Errorf("task %s: lock state directory: %w", id, err)
		}
		defer func() {
			if err != nil {
				for _, s := range t.stores {
					s.inner.Close()
				}
				t.dir.Close()
			}
		}()
		if th.eos() {
			if err = eosPrepareTaskDir(t.dir, th.app.appID, id, sub.Stores); err != nil {
				return nil, fmt.Errorf("task %s: %w", id, err)
			}
		}
		if t.stores, err = openStores(sub.Stores, th.app.appID, id, t.dir, t.coll, &t.rc, th.cache); err != nil {
			return nil, fmt.Errorf("task %s: %w", id, err)
		}
	}
	if t.resumed, err = th.committedTimes(ctx, sub.SourceTopics, id.Partition); err != nil {
		return nil, fmt.Errorf("task %s: %w", id, err)
	}
	for _, topic := range sub.SourceTopics {
		q := &partQueue{topic: topic, partition: id.Partition, hwm: -1, partTime: -1}
		if pt, ok := t.resumed.partition[topic]; ok {
			q.partTime = pt
		}
		t.queues = append(t.queues, q)
		t.byTopic[topic] = q
	}
	return t, nil
}

// startTask makes a restored task run: it records where the changelogs
// are and makes the topology task (its processors' Init) over the
// restored stores. It runs on the thread's goroutine.
func (th *streamThread) startTask(t *activeTask) (err error) {
	id := t.id
	if t.dir != nil {
		if th.eos() {
			if err = eosTaskStarted(t.dir); err != nil {
				return fmt.Errorf("task %s: %w", id, err)
			}
		}
		for _, s := range t.stores {
			if !s.spec.LoggingDisabled {
				// The counter the store's changelog sink advances.
				next := t.coll.changelogs[s.logTP]
				if next == nil {
					next = &atomic.Int64{}
					t.coll.changelogs[s.logTP] = next
				}
				next.Store(t.restored[s.logTP])
			}
		}
	}
	byName := map[string]state.Store{}
	for _, s := range t.stores {
		byName[s.spec.Name] = s.store
	}
	cfg := th.app.cfg
	t.task, err = th.app.topo.NewTask(topology.TaskConfig{
		ResumeStreamTime: t.resumed.stream,
		ID:               id,
		ApplicationID:    th.app.appID,
		Stores: func(spec state.Spec) (state.Store, error) {
			s, ok := byName[spec.Name]
			if !ok {
				return nil, fmt.Errorf("store %s was not opened", spec.Name)
			}
			return s, nil
		},
		GlobalStores: th.app.globalStores,
		Collector:    t.coll,
		Logger:       th.logger,
		OnDeserializationError: func(rec *topology.RawRecord, err error) topology.ErrorAction {
			if cfg.onDeserialize(t.handlerContext(), rec, err) == Continue {
				return topology.Continue
			}
			return topology.Fail
		},
		OnProcessingError: func(pe *topology.ProcessingError) topology.ErrorAction {
			if cfg.onProcess(t.handlerContext(), &t.raw, pe) == Continue {
				return topology.Continue
			}
			return topology.Fail
		},
		OnDropped:     func(_, reason string) { th.app.metrics.drop(reason) },
		RecordContext: &t.rc,

		ResumeProcessorMetadata: t.resumed.meta,
	})
	if err != nil {
		return fmt.Errorf("task %s: %w", id, err)
	}
	return nil
}

// process runs up to limit buffered records through the task, across its
// partitions in timestamp order, and returns how many it processed.
func (t *activeTask) process(limit int) (int, error) {
	n := 0
	start := time.Now()
	defer func() {
		if n > 0 {
			t.counters.processed.Add(int64(n))
			t.counters.latency.observe(time.Since(start), int64(n))
			t.task.PublishCounts()
		}
	}()
	for n < limit {
		var q *partQueue
		if len(t.queues) == 1 {
			if t.queues[0].len() > 0 {
				q = t.queues[0]
			}
		} else {
			for _, c := range t.queues {
				if c.len() > 0 && (q == nil || t.headTime(c) < t.headTime(q)) {
					q = c
				}
			}
		}
		if q == nil {
			return n, nil
		}
		// The extracted time of a head was computed to choose among
		// several partitions; the only partition's time is the task's
		// stream time, which counts the same records.
		ts := int64(-1)
		if len(t.queues) > 1 {
			ts = t.headTime(q)
		}
		r := q.recs[q.head]
		q.recs[q.head] = nil
		q.head++
		if q.head == len(q.recs) {
			q.recs, q.head = q.recs[:0], 0
		}
		toRaw(r, &t.raw)
		t.coll.in = r
		err := t.task.Process(&t.raw)
		t.coll.in = nil
		if err != nil {
			return n, fmt.Errorf("task %s: process %s/%d@%d: %w", t.id, r.Topic, r.Partition, r.Offset, err)
		}
		if len(t.queues) == 1 {
			ts = t.task.StreamTime()
		}
		q.partTime = max(q.partTime, ts)
		n++
		q.next = kgo.EpochOffset{Epoch: r.LeaderEpoch, Offset: r.Offset + 1}
		q.dirty = true
	}
	return n, nil
}

// toRaw fills raw with r.
func toRaw(r *kgo.Record, raw *topology.RawRecord) {
	*raw = topology.RawRecord{Topic: r.Topic, Partition: r.Partition, Offset: r.Offset,
		Key: r.Key, Value: r.Value, Timestamp: r.Timestamp.UnixMilli()}
	if len(r.Headers) > 0 {
		raw.Headers = make([]serde.Header, len(r.Headers))
		for i, h := range r.Headers {
			raw.Headers[i] = serde.Header{Key: h.Key, Value: h.Value}
		}
	}
}

// headTime is the extracted timestamp (topology.Task.RecordTime) of the
// head of a non-empty queue: a task takes its partitions' records in the
// order of the time the topology gives them, as Kafka Streams does, not of
// their Kafka timestamps. It is computed once per head, since with a
// timestamp extractor it deserialises the record.
func (t *activeTask) headTime(q *partQueue) int64 {
	r := q.recs[q.head]
	if q.headRec != r {
		var raw topology.RawRecord
		toRaw(r, &raw)
		q.headRec, q.headTS = r, t.task.RecordTime(&raw)
	}
	return q.headTS
}

// checkpointOffsets are the changelog offsets the task's persistent stores
// hold after a flush: the acknowledged changelog writes.
func (t *activeTask) checkpointOffsets() changelog.Offsets {
	out := changelog.Offsets{}
	for _, s := range t.stores {
		if !s.spec.LoggingDisabled && s.persist {
			out[s.logTP] = t.coll.changelogs[s.logTP].Load()
		}
	}
	return out
}

// close closes the topology task, writes the checkpoint when clean and
// releases the state directory.
func (t *activeTask) close(clean bool) error {
	if t.task == nil {
		// Closed while restoring: the stores keep what they restored and
		// the checkpoint its older offsets, from which restoration goes
		// on (re-applying a record is harmless).
		var err error
		for _, s := range t.stores {
			err = errors.Join(err, s.store.Close())
		}
		if t.dir != nil {
			err = errors.Join(err, t.dir.Close())
		}
		return err
	}
	err := t.task.Close()
	if t.dir != nil {
		if clean && err == nil {
			if cerr := t.dir.WriteCheckpoint(t.checkpointOffsets()); cerr != nil {
				err = fmt.Errorf("task %s: checkpoint: %w", t.id, cerr)
			}
		}
		err = errors.Join(err, t.dir.Close())
	}
	for _, q := range t.queues {
		t.th.app.metrics.removeLag(q.topic, q.partition)
	}
	return err
}
