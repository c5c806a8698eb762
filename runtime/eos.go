package runtime

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/kafki/kafki/changelog"
	"github.com/kafki/kafki/state"
	"github.com/kafki/kafki/topology"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Exactly-once (exactly_once_v2) in Kafki follows Kafka Streams' EOS v2
// (KIP-447):
//
//   - each stream thread's group client is also a transactional producer,
//     with the transactional id <application.id>-<process id>-<thread>;
//   - the client is always inside a transaction: a commit flushes the
//     tasks, waits for every record, adds the processed input offsets to
//     the transaction with the group's generation and member id
//     (TxnOffsetCommit, so that a zombie of an older generation is fenced
//     by the group coordinator), ends the transaction and begins the next;
//   - every consumer (input, repartition, changelog restoration, standbys)
//     reads committed data only;
//   - a transaction that cannot commit is aborted, and every task of the
//     thread is closed dirty: their stores may hold writes of the aborted
//     transaction and are rebuilt from the committed changelog;
//   - checkpoints: an active task's checkpoint file is read when the task
//     starts and then deleted, and is written again only by a clean close,
//     which follows a successful commit. A process killed while it
//     processed therefore leaves no checkpoint, and its persistent stores
//     are wiped and restored from the beginning of the changelog (they
//     may hold uncommitted writes); a task closed cleanly restores only the
//     tail of the changelog. Standbys read committed changelog records
//     only, so their checkpoints stay valid under exactly-once.

// ErrProducerFenced is wrapped by the error that stops a stream thread
// whose transactional producer was fenced: another producer initialised the
// same transactional id (a newer instance of this thread), or the broker
// aborted the thread's transaction because it exceeded the transaction
// timeout. The thread's open transaction is aborted and its tasks closed
// dirty; like a lost producer epoch or sequence, it is "task migrated": the
// thread rejoins the group with a new producer, and the uncaught-error
// handler is not called.
var ErrProducerFenced = errors.New("transactional producer fenced")

// ErrTransactionAborted is wrapped by the error that stops a stream thread
// whose transaction could not commit and was aborted (unless the cause was
// a fence, a lost epoch or an unreachable broker: then the thread rejoins
// instead of stopping). Nothing the
// transaction wrote is visible to read_committed consumers; the tasks were
// closed dirty and their state is rebuilt from the committed changelog by
// whichever thread gets them next.
var ErrTransactionAborted = errors.New("transaction aborted")

// defaultEOSCommitInterval is commit.interval.ms under exactly-once when
// CommitInterval is not given, as in Kafka Streams.
const defaultEOSCommitInterval = 100 * time.Millisecond

// defaultTransactionTimeout is the producer's transaction.timeout.ms under
// exactly-once, as Kafka Streams sets it: the longest a transaction of a
// killed instance keeps read_committed readers of its partitions waiting.
const defaultTransactionTimeout = 10 * time.Second

func (th *streamThread) eos() bool { return th.app.cfg.guarantee == ExactlyOnceV2 }

// transactionalID is the transactional id of a stream thread.
func (a *App) transactionalID(thread int) string {
	return fmt.Sprintf("%s-%s-%d", a.appID, a.processID, thread)
}

// eosClientOpts are the options of a thread's group client under
// exactly-once. They come before the user's ClientOpts, which may override
// the transaction timeout.
func (a *App) eosClientOpts(thread int) []kgo.Opt {
	if a.cfg.guarantee != ExactlyOnceV2 {
		return nil
	}
	return []kgo.Opt{
		kgo.TransactionalID(a.transactionalID(thread)),
		kgo.TransactionTimeout(defaultTransactionTimeout),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
	}
}

// eosCommitter is the exactly-once committer: the thread's client is
// always in a transaction, and commitOffsets ends it with the offsets in
// it.
type eosCommitter struct {
	cl    *kgo.Client
	group string
	txnID string
	sent  *int64 // records handed to the producer in this transaction
	// topicIDs of the input topics: TxnOffsetCommit v6+ (KIP-1319) names
	// topics by id.
	topicIDs map[string][16]byte
	// ready is set once the producer is initialised and in its first
	// transaction (begin); an abort before that has nothing to end.
	ready atomic.Bool
}

// topicID returns the id of an input topic, looked up once.
func (c *eosCommitter) topicID(ctx context.Context, topic string) ([16]byte, error) {
	if id, ok := c.topicIDs[topic]; ok {
		return id, nil
	}
	req := kmsg.NewPtrMetadataRequest()
	rt := kmsg.NewMetadataRequestTopic()
	rt.Topic = kmsg.StringPtr(topic)
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(ctx, c.cl)
	if err != nil {
		return [16]byte{}, fmt.Errorf("metadata of %s: %w", topic, err)
	}
	for _, t := range resp.Topics {
		if t.Topic != nil && *t.Topic == topic {
			if err := kerr.ErrorForCode(t.ErrorCode); err != nil {
				return [16]byte{}, fmt.Errorf("metadata of %s: %w", topic, err)
			}
			if c.topicIDs == nil {
				c.topicIDs = map[string][16]byte{}
			}
			c.topicIDs[topic] = t.TopicID
			return t.TopicID, nil
		}
	}
	return [16]byte{}, fmt.Errorf("metadata of %s: topic missing from the response", topic)
}

// begin starts the first transaction of the thread. It initialises the
// producer id at once: that fences an older producer with the same
// transactional id and aborts its open transaction, which would otherwise
// hold back the group's offsets (KIP-447 stable offsets) until it times
// out.
func (c *eosCommitter) begin(ctx context.Context) error {
	if _, _, err := c.cl.ProducerID(ctx); err != nil {
		return c.wrap(fmt.Errorf("init producer id %s: %w", c.txnID, err))
	}
	if err := c.cl.BeginTransaction(); err != nil {
		return c.wrap(fmt.Errorf("begin transaction: %w", err))
	}
	c.ready.Store(true)
	return nil
}

func (c *eosCommitter) flush(ctx context.Context) error {
	if err := c.cl.Flush(ctx); err != nil {
		return fmt.Errorf("flush producer: %w", err)
	}
	return nil
}

// commitOffsets commits the transaction: the records produced since it
// began and the offsets. On a group error (a rebalance) the transaction
// stays open and the error is returned, so that the caller retries the
// commit with the next generation; on any other error the caller aborts.
func (c *eosCommitter) commitOffsets(ctx context.Context, offsets map[string]map[int32]kgo.EpochOffset) error {
	if *c.sent == 0 {
		// Nothing was produced: there is no write to make atomic with the
		// offsets, and an offsets-only transaction cannot be ended through
		// the client (it ends only transactions it produced in). A plain,
		// generation-fenced offset commit is equivalent.
		if len(offsets) == 0 {
			return nil
		}
		return alosCommitter{cl: c.cl}.commitOffsets(ctx, offsets)
	}
	if len(offsets) > 0 {
		if err := c.addOffsets(ctx, offsets); err != nil {
			return err
		}
	}
	if err := c.cl.EndTransaction(ctx, kgo.TryCommit); err != nil {
		return c.wrap(fmt.Errorf("commit transaction: %w", err))
	}
	*c.sent = 0
	if err := c.cl.BeginTransaction(); err != nil {
		return c.wrap(fmt.Errorf("begin transaction: %w", err))
	}
	return nil
}

// addOffsets adds the consumer group to the transaction and commits the
// offsets in it, with the group's generation and member id (KIP-447).
func (c *eosCommitter) addOffsets(ctx context.Context, offsets map[string]map[int32]kgo.EpochOffset) error {
	pid, epoch, err := c.cl.ProducerID(ctx)
	if err != nil {
		return c.wrap(fmt.Errorf("producer id: %w", err))
	}
	add := kmsg.NewPtrAddOffsetsToTxnRequest()
	add.TransactionalID, add.ProducerID, add.ProducerEpoch, add.Group = c.txnID, pid, epoch, c.group
	if err := retryTxn(ctx, func() error {
		resp, err := add.RequestWith(ctx, c.cl)
		if err != nil {
			return err
		}
		return kerr.ErrorForCode(resp.ErrorCode)
	}); err != nil {
		return c.wrap(fmt.Errorf("add offsets to transaction: %w", err))
	}

	meta := commitMetadataOf(ctx)
	member, generation := c.cl.GroupMetadata()
	commit := kmsg.NewPtrTxnOffsetCommitRequest()
	commit.TransactionalID, commit.Group, commit.ProducerID, commit.ProducerEpoch = c.txnID, c.group, pid, epoch
	commit.Generation, commit.MemberID = generation, member
	for topic, ps := range offsets {
		rt := kmsg.NewTxnOffsetCommitRequestTopic()
		rt.Topic = topic
		if rt.TopicID, err = c.topicID(ctx, topic); err != nil {
			return err
		}
		for p, eo := range ps {
			rp := kmsg.NewTxnOffsetCommitRequestTopicPartition()
			rp.Partition, rp.Offset, rp.LeaderEpoch = p, eo.Offset, eo.Epoch
			rp.Metadata = meta.metadataFor(topic, p)
			rt.Partitions = append(rt.Partitions, rp)
		}
		commit.Topics = append(commit.Topics, rt)
	}
	err = retryTxn(ctx, func() error {
		resp, err := commit.RequestWith(ctx, c.cl)
		if err != nil {
			return err
		}
		var errs []error
		for _, t := range resp.Topics {
			for _, p := range t.Partitions {
				if e := kerr.ErrorForCode(p.ErrorCode); e != nil {
					errs = append(errs, fmt.Errorf("%s/%d: %w", t.Topic, p.Partition, e))
				}
			}
		}
		return errors.Join(errs...)
	})
	if err != nil {
		return c.wrap(fmt.Errorf("commit offsets in transaction (generation %d): %w", generation, err))
	}
	return nil
}

// retryTxn retries fn while the broker answers with an error that clears by
// itself (a coordinator moving or loading, the previous transaction still
// completing).
func retryTxn(ctx context.Context, fn func() error) error {
	backoff := 10 * time.Millisecond
	for {
		err := fn()
		if err == nil || !(errors.Is(err, kerr.ConcurrentTransactions) || errors.Is(err, kerr.CoordinatorLoadInProgress) ||
			errors.Is(err, kerr.CoordinatorNotAvailable) || errors.Is(err, kerr.NotCoordinator)) {
			return err
		}
		select {
		case <-ctx.Done():
			return errors.Join(err, ctx.Err())
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 200*time.Millisecond)
	}
}

// wrap marks the errors that mean the producer was fenced.
func (c *eosCommitter) wrap(err error) error {
	if errors.Is(err, kerr.TransactionalIDAuthorizationFailed) && !errors.Is(err, ErrNotAuthorized) {
		return fmt.Errorf("%w: the principal lacks WRITE on transactional id %s (%w): %w", ErrNotAuthorized, c.txnID, ErrProducerFenced, err)
	}
	if isFenced(err) && !errors.Is(err, ErrProducerFenced) {
		return fmt.Errorf("%w: %s: %w", ErrProducerFenced, c.txnID, err)
	}
	return err
}

func isFenced(err error) bool {
	return errors.Is(err, kerr.ProducerFenced) || errors.Is(err, kerr.InvalidProducerEpoch) ||
		errors.Is(err, kerr.InvalidProducerIDMapping) || errors.Is(err, kerr.TransactionalIDAuthorizationFailed)
}

// abort aborts the open transaction, dropping records not sent yet, and
// begins the next one. It returns an error when the producer cannot go on
// (fenced).
func (c *eosCommitter) abort(ctx context.Context) error {
	if err := c.cl.AbortBufferedRecords(ctx); err != nil {
		return fmt.Errorf("abort buffered records: %w", err)
	}
	if !c.ready.Load() {
		*c.sent = 0
		return nil
	}
	err := c.cl.EndTransaction(ctx, kgo.TryAbort)
	*c.sent = 0
	if err != nil {
		return c.wrap(fmt.Errorf("abort transaction: %w", err))
	}
	if err := c.cl.BeginTransaction(); err != nil {
		return c.wrap(fmt.Errorf("begin transaction: %w", err))
	}
	return nil
}

// eosAbort aborts the thread's open transaction and closes every active
// task dirty: their stores may hold writes of the aborted transaction.
// Under at-least-once it does nothing. Callers hold th.mu.
func (th *streamThread) eosAbort(ctx context.Context, why error) error {
	c, ok := th.commit.(*eosCommitter)
	if !ok {
		return nil
	}
	th.logger.Warn("aborting transaction; closing tasks dirty", "tasks", len(th.tasks), "cause", why)
	for _, t := range th.tasks {
		th.closeTask(t, false)
	}
	return c.abort(ctx)
}

// eosCommitFailed handles a commit that failed under exactly-once outside
// of a rebalance: the transaction is aborted, the tasks closed dirty, and
// the returned error (wrapping ErrTransactionAborted, and ErrProducerFenced
// when fenced) stops the thread. Under at-least-once it returns err.
func (th *streamThread) eosCommitFailed(ctx context.Context, err error) error {
	if err == nil || !th.eos() {
		return err
	}
	if isFenced(err) && !errors.Is(err, ErrProducerFenced) {
		err = fmt.Errorf("%w: %w", ErrProducerFenced, err)
	}
	if aerr := th.eosAbort(ctx, err); aerr != nil {
		th.logger.Warn("abort failed", "err", aerr)
	}
	return taskMigrated(fmt.Errorf("%w: %w", ErrTransactionAborted, err))
}

// eosPrepareTaskDir runs before the stores of an active task are opened
// under exactly-once: a persistent logged store without a checkpoint entry
// may hold writes of a transaction that never committed (the process died
// while it processed), so it is wiped and restored from the beginning of
// its changelog.
func eosPrepareTaskDir(dir *changelog.TaskDir, appID string, id topology.TaskID, specs []state.Spec) error {
	cp := dir.ReadCheckpoint()
	for _, spec := range specs {
		if spec.LoggingDisabled || spec.Engine == state.InMemory {
			continue
		}
		tp := changelog.TopicPartition{Topic: changelog.ChangelogTopic(appID, spec.Name), Partition: id.Partition}
		if _, ok := cp[tp]; ok {
			continue
		}
		if err := dir.WipeStore(spec.Name); err != nil {
			return fmt.Errorf("wipe store %s with no committed checkpoint: %w", spec.Name, err)
		}
	}
	return nil
}

// eosTaskStarted runs when an active task has restored and is about to
// process under exactly-once: its checkpoint is deleted, so that a crash
// from now on leaves none (see above).
func eosTaskStarted(dir *changelog.TaskDir) error {
	if err := dir.RemoveCheckpoint(); err != nil {
		return fmt.Errorf("remove checkpoint: %w", err)
	}
	return nil
}

// eosReadOpts are the options of the thread's other consumers (standbys)
// under exactly-once: they read committed records only.
func (a *App) eosReadOpts() []kgo.Opt {
	if a.cfg.guarantee != ExactlyOnceV2 {
		return nil
	}
	return []kgo.Opt{kgo.FetchIsolationLevel(kgo.ReadCommitted())}
}

// newEOSCommitter makes the thread's exactly-once committer; initEOS
// begins its first transaction.
func (th *streamThread) newEOSCommitter() *eosCommitter {
	return &eosCommitter{cl: th.cl, group: th.app.appID, txnID: th.app.transactionalID(th.id), sent: &th.txnSent}
}

// producerInitTimeout bounds how long a new stream thread keeps trying to
// initialise its transactional producer (a broker that is down, a
// coordinator that moved) before it fails.
const producerInitTimeout = 5 * time.Minute

// initEOS initialises the thread's transactional producer and begins its
// first transaction, retrying with backoff while the broker is unreachable
// or answers with a retriable error, for at most producerInitTimeout. It
// runs on the thread's goroutine, before the first poll, so that a thread
// started (or replaced) during a broker outage waits for the broker instead
// of failing. It returns nil at once when ctx ends (Close).
func (th *streamThread) initEOS(ctx context.Context) error {
	c, ok := th.commit.(*eosCommitter)
	if !ok {
		return nil
	}
	deadline := time.Now().Add(producerInitTimeout)
	backoff := 100 * time.Millisecond
	var lastLog time.Time
	for {
		actx, cancel := context.WithTimeout(ctx, th.app.cfg.rebalanceTimeout)
		err := c.begin(actx)
		cancel()
		if err == nil || ctx.Err() != nil {
			return nil
		}
		if !migrationCause(err) || time.Now().After(deadline) {
			return err
		}
		if time.Since(lastLog) > 10*time.Second {
			th.logger.Warn("cannot initialise the transactional producer yet; retrying", "txn_id", c.txnID, "err", err)
			lastLog = time.Now()
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 5*time.Second)
	}
}

// eosCommitBeforeRestore commits the open transaction before new active
// tasks are created in a rebalance callback: their restoration may take
// longer than the transaction timeout, and the broker would abort the
// transaction (and fence the producer) in the meantime. It does nothing
// under at-least-once or when every task in active already runs.
func (th *streamThread) eosCommitBeforeRestore(ctx context.Context, active []topology.TaskID) error {
	if !th.eos() || th.txnSent == 0 {
		return nil
	}
	for _, id := range active {
		if _, ok := th.tasks[id]; !ok {
			return th.eosCommitFailed(ctx, th.commitAll(ctx))
		}
	}
	return nil
}
