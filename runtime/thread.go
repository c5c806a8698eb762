package runtime

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/kafki/kafki/changelog"
	"github.com/kafki/kafki/state"
	"github.com/kafki/kafki/topology"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// streamThread is one group member: a goroutine with its own kgo.Client
// that consumes, processes, produces and commits for its tasks.
//
// The client blocks rebalances while a poll's records are processed
// (kgo.BlockRebalanceOnPoll), so the rebalance callbacks, which create,
// commit and close tasks, never run concurrently with processing: the task
// maps below are touched by one goroutine at a time.
type streamThread struct {
	app      *App
	id       int
	logger   *slog.Logger
	cl       *kgo.Client
	bal      *balancer
	restorer *changelog.Restorer
	commit   committer
	// cache is the record-cache budget all caching stores of the thread's
	// tasks share (CacheMaxBytes divided by the threads); nil: no caching.
	cache *state.ThreadCache

	tasks map[topology.TaskID]*activeTask
	byTP  map[tp]*activeTask // running and restoring tasks
	// restoring are the tasks the state updater has (updater.go).
	restoring map[topology.TaskID]*restoring
	updater   *stateUpdater
	// standbys are the thread's standby tasks; the state updater owns
	// them between newStandby and closeStandby.
	standbys   map[topology.TaskID]*standbyTask
	lastCommit time.Time

	// mu serialises the loop's processing and commits with the rebalance
	// callbacks and the final shutdown. kgo.BlockRebalanceOnPoll already
	// keeps callbacks out while a poll's records are processed; mu covers
	// the rest (an empty poll, the shutdown after the last poll).
	mu          sync.Mutex
	fatal       error // set by callbacks, returned by the loop
	failed      atomic.Bool
	assigned    atomic.Bool
	sawShutdown atomic.Bool
	meta        atomic.Pointer[ThreadMetadata]
	// ready is closed when the thread is fully built: the client joins the
	// group as soon as it exists, and the callbacks wait for the rest.
	ready chan struct{}
	// abandoned is closed when building the thread failed after its group
	// client existed: the callbacks that client still runs while it
	// leaves the group must return instead of waiting for ready.
	abandoned chan struct{}
	name      string
	// txnSent counts the records handed to the producer in the open
	// transaction (exactly-once; see eosCommitter).
	txnSent int64
}

// publish updates the thread's metadata after its tasks changed.
func (th *streamThread) publish() {
	m := &ThreadMetadata{Name: th.name}
	for id := range th.tasks {
		m.Active = append(m.Active, id)
	}
	for id := range th.restoring {
		m.Active = append(m.Active, id)
	}
	for id := range th.standbys {
		m.Standby = append(m.Standby, id)
	}
	slices.SortFunc(m.Active, compareTasks)
	slices.SortFunc(m.Standby, compareTasks)
	th.meta.Store(m)
}

func (a *App) newThread(id int) (*streamThread, error) {
	th := &streamThread{
		app: a, id: id,
		logger:     a.cfg.logger.With("thread", id),
		tasks:      map[topology.TaskID]*activeTask{},
		restoring:  map[topology.TaskID]*restoring{},
		byTP:       map[tp]*activeTask{},
		standbys:   map[topology.TaskID]*standbyTask{},
		ready:      make(chan struct{}),
		abandoned:  make(chan struct{}),
		lastCommit: time.Now(),
	}
	th.name = fmt.Sprintf("%s-%s-StreamThread-%d", a.appID, a.processID, id)
	th.updater = newStateUpdater(th)
	if a.cfg.cacheBytes > 0 {
		th.cache = state.NewThreadCache(a.cfg.cacheBytes / int64(a.cfg.threads))
	}
	th.publish()
	th.bal = &balancer{subs: a.subs, standbys: a.cfg.standbys, cooperative: a.cfg.cooperative, hooks: memberHooks{
		processID:  a.processID,
		stateTasks: a.stateTasks,
		shutdown:   a.shutdownRequested.Load,
		endpoint:   a.cfg.appServer,
	}}
	opts := []kgo.Opt{
		kgo.SeedBrokers(a.cfg.brokers...),
		kgo.ClientID(th.name),
		kgo.ConsumerGroup(a.appID),
		kgo.ConsumeTopics(th.bal.sources()...),
		kgo.Balancers(th.bal),
		kgo.DisableAutoCommit(),
		kgo.BlockRebalanceOnPoll(),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		// Kafka's fetch.max.wait.ms default. franz-go waits 5 s, and a
		// fetch in flight for idle partitions (a table's, one of a join's
		// sides) holds back a partition resumed after backpressure for
		// that long.
		kgo.FetchMaxWait(500 * time.Millisecond),
		kgo.SessionTimeout(a.cfg.sessionTimeout),
		kgo.RebalanceTimeout(a.cfg.rebalanceTimeout),
		kgo.RecordPartitioner(kafkiPartitioner{kgo.StickyKeyPartitioner(nil)}),
		// Kafka Streams overrides linger.ms to 100; 5 ms measured no more
		// CPU here (paired runs of the cache-off word count, within
		// noise) for far less latency.
		kgo.ProducerLinger(5 * time.Millisecond),
		// Compression stays franz-go's default (snappy), not the Java
		// producer's none: without it Nexmark q7 took 45 s instead of 10 s
		// in kafki-bench for the same CPU, its uncompressed batches five
		// times larger to fetch. ClientOpts may set another.
		kgo.MaxBufferedRecords(1 << 20),
		kgo.OnPartitionsAssigned(th.onAssigned),
		kgo.OnPartitionsRevoked(th.onRevoked),
		kgo.OnPartitionsLost(th.onLost),
	}
	opts = append(opts, a.eosClientOpts(id)...)
	opts = append(opts, a.clientMetricsOpts()...)
	opts = append(opts, a.cfg.clientOpts...)
	// The restorer and the state updater's restore consumer first: the
	// group client joins as soon as it exists.
	var err error
	ropts := append([]kgo.Opt{kgo.SeedBrokers(a.cfg.brokers...)}, a.cfg.clientOpts...)
	th.restorer, err = changelog.NewRestorer(changelog.RestorerConfig{ClientOpts: ropts, Listener: th, Logger: th.logger,
		ReadCommitted: th.eos()})
	if err != nil {
		return nil, fmt.Errorf("thread %d: %w", id, err)
	}
	if th.updater.cons, err = th.restorer.NewConsumer(); err != nil {
		th.restorer.Close()
		return nil, fmt.Errorf("thread %d: %w", id, err)
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		th.updater.cons.Close()
		th.restorer.Close()
		return nil, fmt.Errorf("thread %d: client: %w", id, err)
	}
	th.cl = cl
	th.commit = alosCommitter{cl: cl}
	if th.eos() {
		// The producer is initialised by run (initEOS), off the App's
		// lock and with retries: the broker may be down.
		th.commit = th.newEOSCommitter()
	}
	close(th.ready)
	return th, nil
}

// run is the thread's loop. It returns nil when ctx is canceled (Close)
// and the error that stopped it otherwise.
func (th *streamThread) run(ctx context.Context) error {
	uctx, stopUpdater := context.WithCancel(ctx)
	var updater sync.WaitGroup
	updater.Add(1)
	go func() {
		defer updater.Done()
		th.updater.run(uctx)
	}()
	defer updater.Wait()
	defer stopUpdater()
	if err := th.initEOS(ctx); err != nil {
		return fmt.Errorf("thread %d: %w", th.id, err)
	}
	pollWait := min(th.app.cfg.commitInterval, 100*time.Millisecond)
	for {
		if ctx.Err() != nil {
			return nil
		}
		// With records still buffered (see backpressure.go) the poll only
		// takes what the client has, without waiting.
		th.mu.Lock()
		wait := pollWait
		if th.backlog() {
			wait = 0
		}
		th.mu.Unlock()
		pctx, cancel := context.WithTimeout(ctx, wait)
		fetches := th.cl.PollFetches(pctx)
		cancel()
		if fetches.IsClientClosed() {
			return nil
		}
		th.mu.Lock()
		th.adoptRestored()
		err := th.handle(ctx, fetches)
		if err == nil {
			err = th.fatal
		}
		th.mu.Unlock()
		th.cl.AllowRebalance()
		if err != nil {
			return err
		}
	}
}

// handle processes one poll's records, applies standby updates and commits
// when the interval has passed.
func (th *streamThread) handle(ctx context.Context, fetches kgo.Fetches) error {
	fetches.EachError(func(topic string, p int32, err error) {
		if !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled) {
			th.logger.Warn("fetch error", "topic", topic, "partition", p, "err", err)
		}
	})
	fetches.EachPartition(func(p kgo.FetchTopicPartition) {
		t := th.byTP[tp{p.Topic, p.Partition}]
		if t == nil {
			return // revoked since it was fetched
		}
		q := t.byTopic[p.Topic]
		q.recs = append(q.recs, p.Records...)
		q.hwm = p.HighWatermark
		t.counters.consumed.Add(int64(len(p.Records)))
		th.pauseIfFull(q)
	})
	now := time.Now()
	for _, t := range th.tasks {
		if _, err := t.process(th.bufferedRecordsLimit(t)); err != nil {
			return err
		}
		th.resumeDrained(t)
		if err := t.task.Punctuate(now); err != nil {
			return fmt.Errorf("task %s: punctuate: %w", t.id, err)
		}
		for _, q := range t.queues {
			if q.hwm >= 0 && q.next.Offset > 0 {
				th.app.metrics.setLag(q.topic, q.partition, q.next.Offset, q.hwm)
			}
		}
	}
	if time.Since(th.lastCommit) >= th.app.cfg.commitInterval {
		// Not ctx: Close cancels it, and a commit cut short would throw
		// away work that is done.
		cctx, cancel := context.WithTimeout(context.Background(), th.app.cfg.rebalanceTimeout)
		err := th.commitAll(cctx)
		if !isRebalanceErr(err) {
			err = th.eosCommitFailed(cctx, err)
		}
		cancel()
		if isRebalanceErr(err) {
			// The group is rebalancing: the offsets stay dirty and are
			// committed by the revocation or the next interval; the
			// outputs are already acknowledged.
			th.logger.Warn("commit deferred by a rebalance", "err", err)
			return nil
		}
		if !th.eos() && isRetriable(err) {
			// A broker outage or a commit held behind a group join: the
			// offsets stay dirty and the next interval tries again, as
			// Kafka Streams retries retriable commit errors.
			th.logger.Warn("commit failed with a retriable error; retrying at the next interval", "err", err)
			th.lastCommit = time.Now()
			return nil
		}
		// At-least-once too: a producer that lost its sequence or epoch
		// means "task migrated" (the tasks are closed dirty and processed
		// again from the committed offsets), not a failed thread.
		return taskMigrated(err)
	}
	return nil
}

// isRebalanceErr reports whether a commit failed because the group moved to
// a new generation, which is not a failure of the thread.
func isRebalanceErr(err error) bool {
	return errors.Is(err, kerr.RebalanceInProgress) || errors.Is(err, kerr.IllegalGeneration) ||
		errors.Is(err, kerr.UnknownMemberID) || errors.Is(err, kerr.FencedInstanceID)
}

// commitAll flushes every task, waits for every produced record to be
// acknowledged, commits the input offsets of the processed records, and
// writes checkpoints. Offsets are committed only for records whose outputs
// are acknowledged: that is the at-least-once guarantee.
func (th *streamThread) commitAll(ctx context.Context) error {
	start := time.Now()
	for _, t := range th.tasks {
		if err := t.task.Flush(); err != nil {
			return err
		}
	}
	if err := th.commit.flush(ctx); err != nil {
		return err
	}
	offsets := map[string]map[int32]kgo.EpochOffset{}
	meta := commitMetadata{}
	for _, t := range th.tasks {
		if err := t.coll.produceErr(); err != nil {
			return fmt.Errorf("task %s: produce: %w", t.id, err)
		}
		for _, q := range t.queues {
			if !q.dirty {
				continue
			}
			if offsets[q.topic] == nil {
				offsets[q.topic], meta[q.topic] = map[int32]kgo.EpochOffset{}, map[int32]string{}
			}
			offsets[q.topic][q.partition] = q.next
			if m, ok := q.commitMetadata(t.task.ProcessorMetadata()); ok {
				meta[q.topic][q.partition] = m
			}
		}
	}
	if err := th.commit.commitOffsets(withCommitMetadata(ctx, meta), offsets); err != nil {
		return err
	}
	for _, t := range th.tasks {
		for _, q := range t.queues {
			q.dirty = false
		}
		if t.dir != nil && !th.eos() { // under exactly-once only a clean close checkpoints
			if err := t.dir.WriteCheckpoint(t.checkpointOffsets()); err != nil {
				return fmt.Errorf("task %s: checkpoint: %w", t.id, err)
			}
		}
	}
	th.lastCommit = time.Now()
	th.app.metrics.commits.Add(1)
	th.app.metrics.commitLat.observe(time.Since(start), 1)
	return nil
}

func (th *streamThread) addTask(t *activeTask) {
	th.tasks[t.id] = t
	for _, q := range t.queues {
		th.byTP[tp{q.topic, q.partition}] = t
	}
	th.app.local.addTask(t.id, t.task, t.stores, false)
	th.publish()
}

func (th *streamThread) closeTask(t *activeTask, clean bool) {
	th.resumeAll(t)
	th.app.local.removeTask(t.id, false)
	if err := t.close(clean); err != nil {
		th.logger.Warn("closing task", "task", t.id.String(), "err", err)
	}
	delete(th.tasks, t.id)
	for _, q := range t.queues {
		delete(th.byTP, tp{q.topic, q.partition})
	}
	th.publish()
}

// shutdown commits (when clean), closes every task and standby, and the
// clients. It runs on the thread's goroutine after the loop ended.
func (th *streamThread) shutdown(ctx context.Context, clean bool) {
	th.mu.Lock()
	if clean && len(th.tasks) > 0 {
		if err := th.commitAll(ctx); err != nil {
			th.logger.Warn("final commit failed", "err", err)
			clean = false
		}
	}
	if !clean {
		if err := th.eosAbort(ctx, errors.New("shutdown without commit")); err != nil {
			th.logger.Warn("abort on shutdown", "err", err)
		}
	}
	for _, t := range th.tasks {
		th.closeTask(t, clean)
	}
	for _, r := range th.restoring {
		th.closeAnyTask(r.t, false)
	}
	for _, s := range th.standbys {
		if err := th.closeStandby(s); err != nil {
			th.logger.Warn("closing standby", "task", s.id.String(), "err", err)
		}
	}
	th.failed.Store(true) // the leave's revocation must not commit again
	th.mu.Unlock()
	th.cl.AllowRebalance()
	th.cl.Close()
	th.updater.cons.Close()
	th.restorer.Close()
}

// kafkiPartitioner sends records to the partition they name, or by key
// (murmur2, as Java's default partitioner) when the partition is -1.
type kafkiPartitioner struct{ byKey kgo.Partitioner }

func (p kafkiPartitioner) ForTopic(topic string) kgo.TopicPartitioner {
	return topicPartitioner{p.byKey.ForTopic(topic)}
}

type topicPartitioner struct{ byKey kgo.TopicPartitioner }

func (p topicPartitioner) RequiresConsistency(r *kgo.Record) bool {
	return r.Partition >= 0 || p.byKey.RequiresConsistency(r)
}

func (p topicPartitioner) Partition(r *kgo.Record, n int) int {
	if r.Partition >= 0 {
		return int(r.Partition)
	}
	return p.byKey.Partition(r, n)
}

func (p topicPartitioner) OnNewBatch() {
	if nb, ok := p.byKey.(kgo.TopicPartitionerOnNewBatch); ok {
		nb.OnNewBatch()
	}
}
