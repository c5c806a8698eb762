package changelog

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// ErrOffsetOutOfRange is wrapped by the error of a restoration whose start
// offset is no longer in the changelog partition: below its log start
// offset (records were deleted by retention or DeleteRecords) or above its
// end (the topic was re-created). The store cannot be brought up to date
// from there: the caller wipes it and restores from the beginning, as Kafka
// Streams does for a corrupted task.
var ErrOffsetOutOfRange = errors.New("changelog: restore offset out of range")

// OffsetOutOfRangeError is the error of a restoration whose start offset is
// out of range; it wraps ErrOffsetOutOfRange and names the store to reset
// (see ResetStore).
type OffsetOutOfRangeError struct {
	Store     string
	Partition TopicPartition
	// Offset is the start offset; Start and End the partition's range,
	// when known (-1 otherwise).
	Offset, Start, End int64
	// Err is the broker's error, if it came from a fetch.
	Err error
}

func (e *OffsetOutOfRangeError) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%v: store %s, %s: %v", ErrOffsetOutOfRange, e.Store, e.Partition, e.Err)
	}
	return fmt.Sprintf("%v: store %s, %s: offset %d is outside [%d, %d]", ErrOffsetOutOfRange, e.Store, e.Partition, e.Offset, e.Start, e.End)
}

func (e *OffsetOutOfRangeError) Unwrap() []error {
	if e.Err == nil {
		return []error{ErrOffsetOutOfRange}
	}
	return []error{ErrOffsetOutOfRange, e.Err}
}

// RestoreListener is told about the progress of restorations, as Kafka
// Streams' StateRestoreListener. Its methods are called from the goroutine
// that runs Restorer.Restore, and only for partitions that have records to
// restore.
type RestoreListener interface {
	// OnRestoreStart is called before the first record of a partition is
	// applied: restoration reads from start up to (excluding) end.
	OnRestoreStart(store string, tp TopicPartition, start, end int64)
	// OnBatchRestored is called after each batch written to the store;
	// batchEndOffset is the offset of its last record, n its size.
	OnBatchRestored(store string, tp TopicPartition, batchEndOffset int64, n int)
	// OnRestoreEnd is called when the store has reached the end offset,
	// with the number of records restored.
	OnRestoreEnd(store string, tp TopicPartition, total int64)
}

// RestorerConfig configures a Restorer.
type RestorerConfig struct {
	// ClientOpts configure the clients of the restorer: at least
	// kgo.SeedBrokers, plus TLS or SASL as needed. Consumer group options
	// must not be given; the restorer reads partitions directly.
	ClientOpts []kgo.Opt
	// ReadCommitted reads changelogs written by transactional producers
	// (exactly-once): restoration ends at the last stable offset and skips
	// aborted records. Otherwise it reads up to the high watermark.
	ReadCommitted bool
	// Listener, if set, is told about the progress of each restoration.
	Listener RestoreListener
	// Logger gets a line when a restoration starts and ends, and progress
	// lines every ProgressInterval while it runs. slog.Default() if nil.
	Logger *slog.Logger
	// BatchSize is the largest number of records written to a store in
	// one batch (10,000 if zero).
	BatchSize int
	// ProgressInterval is the interval of progress log lines (10s if
	// zero).
	ProgressInterval time.Duration
	// StallTimeout is how long a partition that has not reached its end
	// may go without records before the restorer checks with a direct
	// fetch whether only records it never sees (aborted transactions,
	// compacted-away batches) are left (2s if zero).
	StallTimeout time.Duration
}

// Job is the restoration of one store from one changelog partition.
type Job struct {
	Store     Restorable
	Partition TopicPartition
	// Start is the next offset to read: the offset in the task's
	// checkpoint, or 0 (or less) to read from the beginning.
	Start int64
}

// Result is the outcome of one Job.
type Result struct {
	// Next is the next offset to read from the partition: the offset to
	// record in the checkpoint for this store.
	Next int64
	// Start and End are the range read: [Start, End).
	Start, End int64
	// Restored is the number of records applied to the store.
	Restored int64
	// Duration is the time from the start of Restore to the end of this
	// job.
	Duration time.Duration
}

// Restorer brings stores up to the end of their changelog partitions.
// Calls to Restore and RestoreAll are serialized: the runtime keeps one
// Restorer per stream thread, as Kafka Streams keeps one restore consumer.
type Restorer struct {
	cfg    RestorerConfig
	logger *slog.Logger
	admCl  *kgo.Client
	adm    *kadm.Client
	mu     sync.Mutex
}

// NewRestorer returns a Restorer. Close it when done.
func NewRestorer(cfg RestorerConfig) (*Restorer, error) {
	if cfg.BatchSize <= 0 {
		cfg.BatchSize = 10_000
	}
	if cfg.ProgressInterval <= 0 {
		cfg.ProgressInterval = 10 * time.Second
	}
	if cfg.StallTimeout <= 0 {
		cfg.StallTimeout = 2 * time.Second
	}
	logger := cfg.Logger
	if logger == nil {
		logger = slog.Default()
	}
	admCl, err := kgo.NewClient(cfg.ClientOpts...)
	if err != nil {
		return nil, fmt.Errorf("changelog: restore client: %w", err)
	}
	return &Restorer{cfg: cfg, logger: logger, admCl: admCl, adm: kadm.NewClient(admCl)}, nil
}

// Admin is the restorer's admin client (offsets, metadata), for callers
// that check changelog ranges themselves.
func (r *Restorer) Admin() *kadm.Client { return r.adm }

// Close releases the restorer's client.
func (r *Restorer) Close() { r.admCl.Close() }

func (r *Restorer) isolation() kgo.IsolationLevel {
	if r.cfg.ReadCommitted {
		return kgo.ReadCommitted()
	}
	return kgo.ReadUncommitted()
}

// EndOffsets returns the offsets restoration of these partitions would read
// up to: the high watermarks, or the last stable offsets with
// ReadCommitted. The runtime uses them to compute the lag of local state.
func (r *Restorer) EndOffsets(ctx context.Context, tps ...TopicPartition) (Offsets, error) {
	ends, _, err := r.listOffsets(ctx, tps, false)
	return ends, err
}

func (r *Restorer) listOffsets(ctx context.Context, tps []TopicPartition, withStarts bool) (ends, starts Offsets, err error) {
	var topics []string
	seen := map[string]bool{}
	for _, tp := range tps {
		if !seen[tp.Topic] {
			seen[tp.Topic] = true
			topics = append(topics, tp.Topic)
		}
	}
	lookup := func(listed kadm.ListedOffsets, what string) (Offsets, error) {
		out := make(Offsets, len(tps))
		for _, tp := range tps {
			o, ok := listed.Lookup(tp.Topic, tp.Partition)
			if !ok {
				if e, ok := listed.Lookup(tp.Topic, -1); ok && e.Err != nil {
					return nil, fmt.Errorf("changelog: %s of %s: %w", what, tp, e.Err)
				}
				return nil, fmt.Errorf("changelog: %s of %s: %w", what, tp, kerr.UnknownTopicOrPartition)
			}
			if o.Err != nil {
				return nil, fmt.Errorf("changelog: %s of %s: %w", what, tp, o.Err)
			}
			out[tp] = o.Offset
		}
		return out, nil
	}
	var listed kadm.ListedOffsets
	if r.cfg.ReadCommitted {
		listed, err = r.adm.ListCommittedOffsets(ctx, topics...)
	} else {
		listed, err = r.adm.ListEndOffsets(ctx, topics...)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("changelog: list end offsets: %w", err)
	}
	if ends, err = lookup(listed, "end offset"); err != nil {
		return nil, nil, err
	}
	if !withStarts {
		return ends, nil, nil
	}
	if listed, err = r.adm.ListStartOffsets(ctx, topics...); err != nil {
		return nil, nil, fmt.Errorf("changelog: list start offsets: %w", err)
	}
	if starts, err = lookup(listed, "start offset"); err != nil {
		return nil, nil, err
	}
	return ends, starts, nil
}

// Restore runs one job; see RestoreAll.
func (r *Restorer) Restore(ctx context.Context, job Job) (Result, error) {
	res, err := r.RestoreAll(ctx, []Job{job})
	if err != nil {
		return Result{}, err
	}
	return res[0], nil
}

// run is the state of one job while it runs.
type run struct {
	job        *Job
	res        *Result
	pos, end   int64
	buf        []*kgo.Record
	lastRecord time.Time
	done       bool
}

// RestoreAll brings every job's store up to the end offset of its changelog
// partition as it is when RestoreAll starts, reading all partitions at
// once, and returns one Result per job, in order. A job whose start offset
// is at the end returns at once without fetching.
//
// Records are applied in batches of up to BatchSize straight to the store;
// transaction markers and (with ReadCommitted) aborted records are skipped;
// offsets need not be contiguous (compaction leaves gaps), and restoration
// of a partition ends when its read position reaches the end offset, even
// when no record sits at end-1.
//
// A start offset outside the partition's [log start, end] range fails with
// an *OffsetOutOfRangeError, except 0, which always means the beginning:
// the caller resets that store (ResetStore) and restores it from 0. On
// error the stores may hold part of what was read: the caller must not
// checkpoint them.
func (r *Restorer) RestoreAll(ctx context.Context, jobs []Job) ([]Result, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	began := time.Now()
	results := make([]Result, len(jobs))
	if len(jobs) == 0 {
		return results, nil
	}
	tps := make([]TopicPartition, len(jobs))
	dupe := make(map[TopicPartition]bool, len(jobs))
	for i := range jobs {
		if jobs[i].Store == nil {
			return nil, fmt.Errorf("changelog: restore of %s has no store", jobs[i].Partition)
		}
		tp := jobs[i].Partition
		if dupe[tp] {
			return nil, fmt.Errorf("changelog: %s is restored twice", tp)
		}
		dupe[tp] = true
		tps[i] = tp
	}
	ends, starts, err := r.listOffsets(ctx, tps, true)
	if err != nil {
		return nil, err
	}

	runs := make(map[TopicPartition]*run, len(jobs))
	consume := map[string]map[int32]kgo.Offset{}
	for i := range jobs {
		job := &jobs[i]
		tp := job.Partition
		end, logStart := ends[tp], starts[tp]
		start := job.Start
		if start <= 0 {
			start = logStart
		} else if start < logStart || start > end {
			return nil, &OffsetOutOfRangeError{Store: job.Store.Name(), Partition: tp, Offset: start, Start: logStart, End: end}
		}
		results[i] = Result{Next: start, Start: start, End: end}
		if start >= end {
			continue
		}
		runs[tp] = &run{job: job, res: &results[i], pos: start, end: end, lastRecord: began}
		if consume[tp.Topic] == nil {
			consume[tp.Topic] = map[int32]kgo.Offset{}
		}
		consume[tp.Topic][tp.Partition] = kgo.NewOffset().At(start)
		r.logger.Info("restoring store", "store", job.Store.Name(), "topic", tp.Topic, "partition", tp.Partition,
			"start", start, "end", end, "records_left", end-start)
		if l := r.cfg.Listener; l != nil {
			l.OnRestoreStart(job.Store.Name(), tp, start, end)
		}
	}
	if len(runs) == 0 {
		return results, nil
	}

	// A client per call: nothing fetched for an earlier call can show up
	// in this one.
	opts := append([]kgo.Opt{
		kgo.FetchMaxBytes(64 << 20),
		kgo.FetchMaxPartitionBytes(16 << 20),
		kgo.FetchMaxWait(500 * time.Millisecond),
	}, r.cfg.ClientOpts...)
	opts = append(opts,
		kgo.ConsumePartitions(consume),
		kgo.KeepControlRecords(),                    // markers move the position
		kgo.ConsumeResetOffset(kgo.NoResetOffset()), // never skip silently
		kgo.FetchIsolationLevel(r.isolation()),
	)
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, fmt.Errorf("changelog: restore consumer: %w", err)
	}
	defer cl.Close()

	lastLog := time.Now()
	active := len(runs)
	for active > 0 {
		pollCtx, cancel := context.WithTimeout(ctx, r.cfg.StallTimeout/2)
		fetches := cl.PollFetches(pollCtx)
		cancel()
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		var fetchErr error
		fetches.EachError(func(topic string, partition int32, err error) {
			if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
				return // our poll timeout
			}
			if fetchErr != nil {
				return
			}
			tp := TopicPartition{Topic: topic, Partition: partition}
			if ru := runs[tp]; ru != nil && errors.Is(err, kerr.OffsetOutOfRange) {
				fetchErr = &OffsetOutOfRangeError{Store: ru.job.Store.Name(), Partition: tp, Offset: ru.pos, Start: -1, End: ru.end, Err: err}
				return
			}
			fetchErr = fmt.Errorf("changelog: restore %s: %w", tp, err)
		})
		if fetchErr != nil {
			return nil, fetchErr
		}
		now := time.Now()
		var applyErr error
		fetches.EachPartition(func(fp kgo.FetchTopicPartition) {
			ru := runs[TopicPartition{Topic: fp.Topic, Partition: fp.Partition}]
			if ru == nil || ru.done || applyErr != nil || len(fp.Records) == 0 {
				return
			}
			ru.lastRecord = now
			applyErr = r.take(ru, fp.Records)
		})
		if applyErr != nil {
			return nil, applyErr
		}
		// Partitions that went quiet short of their end: only records we
		// never see may be left.
		for _, ru := range runs {
			if !ru.done && ru.pos < ru.end && now.Sub(ru.lastRecord) >= r.cfg.StallTimeout {
				if err := r.probe(ctx, ru); err != nil {
					r.logger.Warn("restore: probing a stalled changelog partition failed", "topic", ru.job.Partition.Topic,
						"partition", ru.job.Partition.Partition, "position", ru.pos, "end", ru.end, "err", err)
				}
				ru.lastRecord = time.Now()
			}
		}
		var finished map[string][]int32
		for tp, ru := range runs {
			if ru.done || ru.pos < ru.end {
				continue
			}
			if err := r.finish(ru, began); err != nil {
				return nil, err
			}
			active--
			if finished == nil {
				finished = map[string][]int32{}
			}
			finished[tp.Topic] = append(finished[tp.Topic], tp.Partition)
		}
		if finished != nil {
			cl.RemoveConsumePartitions(finished)
		}
		if active > 0 && time.Since(lastLog) >= r.cfg.ProgressInterval {
			lastLog = time.Now()
			for tp, ru := range runs {
				if !ru.done {
					r.logger.Info("restore progress", "store", ru.job.Store.Name(), "topic", tp.Topic, "partition", tp.Partition,
						"records_restored", ru.res.Restored+int64(len(ru.buf)), "records_left", ru.end-ru.pos, "elapsed", time.Since(began).Round(time.Millisecond))
				}
			}
		}
	}
	return results, nil
}

// take buffers the fetched records of ru's range [pos, end), control
// records left out, and applies each full batch.
func (r *Restorer) take(ru *run, recs []*kgo.Record) error {
	for _, rec := range recs {
		if rec.Offset < ru.pos {
			continue
		}
		if rec.Offset >= ru.end {
			ru.pos = ru.end
			return nil
		}
		ru.pos = rec.Offset + 1
		if rec.Attrs.IsControl() {
			continue
		}
		ru.buf = append(ru.buf, rec)
		if len(ru.buf) >= r.cfg.BatchSize {
			if err := r.apply(ru); err != nil {
				return err
			}
		}
	}
	return nil
}

// apply writes the buffered records of a run to its store.
func (r *Restorer) apply(ru *run) error {
	if len(ru.buf) == 0 {
		return nil
	}
	if err := ru.job.Store.RestoreBatch(ru.buf); err != nil {
		return err
	}
	n := len(ru.buf)
	last := ru.buf[n-1].Offset
	ru.res.Restored += int64(n)
	clear(ru.buf)
	ru.buf = ru.buf[:0]
	if l := r.cfg.Listener; l != nil {
		l.OnBatchRestored(ru.job.Store.Name(), ru.job.Partition, last, n)
	}
	return nil
}

func (r *Restorer) finish(ru *run, began time.Time) error {
	if err := r.apply(ru); err != nil {
		return err
	}
	ru.done = true
	ru.res.Next = ru.end
	ru.res.Duration = time.Since(began)
	tp := ru.job.Partition
	r.logger.Info("restored store", "store", ru.job.Store.Name(), "topic", tp.Topic, "partition", tp.Partition,
		"records_restored", ru.res.Restored, "end", ru.end, "duration", ru.res.Duration.Round(time.Millisecond))
	if l := r.cfg.Listener; l != nil {
		l.OnRestoreEnd(ru.job.Store.Name(), tp, ru.res.Restored)
	}
	return nil
}

// probe asks the partition leader directly what follows the read position
// of a run that has had no records for a while. The consumer advances past
// records it does not return (aborted transactional records, batches
// emptied by compaction) without telling; when what follows up to the end
// offset is only such records, the run is done.
func (r *Restorer) probe(ctx context.Context, ru *run) error {
	tp := ru.job.Partition
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	meta, err := r.adm.Metadata(ctx, tp.Topic)
	if err != nil {
		return err
	}
	td, ok := meta.Topics[tp.Topic]
	if !ok || td.Err != nil {
		return fmt.Errorf("metadata of %s: %v", tp.Topic, td.Err)
	}
	pd, ok := td.Partitions[tp.Partition]
	if !ok || pd.Err != nil || pd.Leader < 0 {
		return fmt.Errorf("no leader for %s", tp)
	}

	req := kmsg.NewPtrFetchRequest()
	req.ReplicaID = -1
	req.MaxWaitMillis = 0
	req.MinBytes = 0
	req.MaxBytes = 1 << 20
	req.SessionEpoch = -1
	if r.cfg.ReadCommitted {
		req.IsolationLevel = 1
	}
	rt := kmsg.NewFetchRequestTopic()
	rt.Topic = tp.Topic
	rt.TopicID = td.ID
	rp := kmsg.NewFetchRequestTopicPartition()
	rp.Partition = tp.Partition
	rp.FetchOffset = ru.pos
	rp.PartitionMaxBytes = 1 << 20
	rp.CurrentLeaderEpoch = -1
	rp.LastFetchedEpoch = -1
	rp.LogStartOffset = -1
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(ctx, r.admCl.Broker(int(pd.Leader)))
	if err != nil {
		return err
	}
	for i := range resp.Topics {
		for j := range resp.Topics[i].Partitions {
			p := &resp.Topics[i].Partitions[j]
			if p.Partition != tp.Partition {
				continue
			}
			if err := kerr.ErrorForCode(p.ErrorCode); err != nil {
				return err
			}
			fp, next := kgo.ProcessFetchPartition(kgo.ProcessFetchPartitionOpts{
				KeepControlRecords: true,
				Offset:             ru.pos,
				IsolationLevel:     r.isolation(),
				Topic:              tp.Topic,
				Partition:          tp.Partition,
			}, p, kgo.DefaultDecompressor(), nil)
			if fp.Err != nil {
				return fp.Err
			}
			if len(fp.Records) > 0 {
				return nil // records are there: the consumer is just slow
			}
			stable := p.HighWatermark
			if r.cfg.ReadCommitted && p.LastStableOffset >= 0 {
				stable = p.LastStableOffset
			}
			switch {
			case next > ru.pos:
				// Only invisible records up to next.
				ru.pos = min(next, ru.end)
			case len(p.RecordBatches) == 0 && stable >= ru.end:
				// Nothing at all from pos up to the end.
				ru.pos = ru.end
			}
			return nil
		}
	}
	return fmt.Errorf("fetch response without %s", tp)
}
