package changelog

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// RestoreConsumer is one long-lived changelog consumer that restores the
// stores of many tasks at once and keeps standby stores up to date (Kafka
// Streams' restore consumer, owned by a stream thread's state updater).
// Restorations and followed partitions are added and removed between
// polls; every partition assigned is fetched in the same requests, so a
// task with little to restore finishes while a large one is still going.
//
// A RestoreConsumer is not safe for concurrent use: one goroutine (the
// state updater) calls all its methods.
type RestoreConsumer struct {
	r      *Restorer
	cl     *kgo.Client
	runs   map[TopicPartition]*run
	follow map[TopicPartition]*follower
	// owner maps a restoring partition to its restoration.
	owner   map[TopicPartition]*Restoration
	lastLog time.Time
}

// Restoration is the restoration of one task's stores, started with
// RestoreConsumer.Restore.
type Restoration struct {
	// Jobs are the jobs it was started with, Results their results (final
	// once Done).
	Jobs    []Job
	Results []Result
	// Err is set when it failed; the stores may then hold part of what
	// was read and must not be checkpointed. An *OffsetOutOfRangeError
	// names the store to reset before restoring it again.
	Err   error
	began time.Time
	left  int
	runs  []*run
}

// Done reports whether every job reached its end offset or the
// restoration failed.
func (rs *Restoration) Done() bool { return rs.left == 0 || rs.Err != nil }

// follower applies what a followed partition gets.
type follower struct {
	next  int64
	apply func(records []*kgo.Record, next, highWatermark int64) error
}

// FollowError is the error of a followed partition: its fetch failed
// (an *OffsetOutOfRangeError when its position left the partition's
// range) or its apply function returned an error.
type FollowError struct {
	Partition TopicPartition
	Err       error
}

func (e *FollowError) Error() string {
	return fmt.Sprintf("changelog: follow %s: %v", e.Partition, e.Err)
}
func (e *FollowError) Unwrap() error { return e.Err }

// NewConsumer returns the restorer's long-lived consumer. Close it when
// done.
func (r *Restorer) NewConsumer() (*RestoreConsumer, error) {
	opts := append([]kgo.Opt{
		kgo.FetchMaxBytes(64 << 20),
		kgo.FetchMaxPartitionBytes(16 << 20),
		kgo.FetchMaxWait(500 * time.Millisecond),
	}, r.cfg.ClientOpts...)
	opts = append(opts,
		kgo.KeepControlRecords(),                    // markers move the position
		kgo.ConsumeResetOffset(kgo.NoResetOffset()), // never skip silently
		kgo.FetchIsolationLevel(r.isolation()),
	)
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, fmt.Errorf("changelog: restore consumer: %w", err)
	}
	return &RestoreConsumer{r: r, cl: cl, runs: map[TopicPartition]*run{}, follow: map[TopicPartition]*follower{},
		owner: map[TopicPartition]*Restoration{}, lastLog: time.Now()}, nil
}

// Close closes the consumer's client.
func (c *RestoreConsumer) Close() { c.cl.Close() }

// Busy reports whether any partition is assigned: Poll has work.
func (c *RestoreConsumer) Busy() bool { return len(c.runs) > 0 || len(c.follow) > 0 }

// Restore starts restoring jobs' stores from their start offsets (0: the
// beginning) up to the end offsets of their partitions as they are now,
// with the semantics of Restorer.RestoreAll. A start offset outside its
// partition's range fails at once with an *OffsetOutOfRangeError. The
// returned restoration may be Done already (nothing to read); otherwise
// Poll returns it when it is.
func (c *RestoreConsumer) Restore(ctx context.Context, jobs []Job) (*Restoration, error) {
	rs := &Restoration{Jobs: jobs, Results: make([]Result, len(jobs)), began: time.Now()}
	if len(jobs) == 0 {
		return rs, nil
	}
	tps := make([]TopicPartition, len(jobs))
	seen := make(map[TopicPartition]bool, len(jobs))
	for i := range jobs {
		tp := jobs[i].Partition
		switch {
		case jobs[i].Store == nil:
			return nil, fmt.Errorf("changelog: restore of %s has no store", tp)
		case seen[tp] || c.runs[tp] != nil || c.follow[tp] != nil:
			return nil, fmt.Errorf("changelog: %s is restored twice", tp)
		}
		seen[tp] = true
		tps[i] = tp
	}
	ends, starts, err := c.r.listOffsets(ctx, tps, true)
	if err != nil {
		return nil, err
	}
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
		rs.Results[i] = Result{Next: start, Start: start, End: end}
		if start >= end {
			continue
		}
		rs.runs = append(rs.runs, &run{job: job, res: &rs.Results[i], pos: start, end: end, lastRecord: rs.began})
		if consume[tp.Topic] == nil {
			consume[tp.Topic] = map[int32]kgo.Offset{}
		}
		consume[tp.Topic][tp.Partition] = kgo.NewOffset().At(start)
	}
	for _, ru := range rs.runs {
		tp := ru.job.Partition
		c.runs[tp], c.owner[tp] = ru, rs
		c.r.logger.Info("restoring store", "store", ru.job.Store.Name(), "topic", tp.Topic, "partition", tp.Partition,
			"start", ru.pos, "end", ru.end, "records_left", ru.end-ru.pos)
		if l := c.r.cfg.Listener; l != nil {
			l.OnRestoreStart(ru.job.Store.Name(), tp, ru.pos, ru.end)
		}
	}
	rs.left = len(rs.runs)
	c.cl.AddConsumePartitions(consume)
	return rs, nil
}

// Cancel stops a restoration that is not done: its partitions are
// unassigned and what was fetched for them is dropped.
func (c *RestoreConsumer) Cancel(rs *Restoration) {
	remove := map[string][]int32{}
	for _, ru := range rs.runs {
		tp := ru.job.Partition
		if c.owner[tp] == rs {
			delete(c.runs, tp)
			delete(c.owner, tp)
			remove[tp.Topic] = append(remove[tp.Topic], tp.Partition)
		}
	}
	c.cl.RemoveConsumePartitions(remove)
	if rs.Err == nil && rs.left > 0 {
		rs.Err = context.Canceled
	}
}

// Follow applies the records of tp from offset start (0 or less: the
// beginning) as they arrive, for a standby store: apply gets the data
// records (no transaction markers) in offset order, the next offset to
// read after them (past any marker), and the partition's high watermark.
func (c *RestoreConsumer) Follow(tp TopicPartition, start int64, apply func(records []*kgo.Record, next, highWatermark int64) error) error {
	if c.runs[tp] != nil || c.follow[tp] != nil {
		return fmt.Errorf("changelog: %s is followed twice", tp)
	}
	off := kgo.NewOffset().AtStart()
	if start > 0 {
		off = kgo.NewOffset().At(start)
	}
	c.follow[tp] = &follower{next: max(start, 0), apply: apply}
	c.cl.AddConsumePartitions(map[string]map[int32]kgo.Offset{tp.Topic: {tp.Partition: off}})
	return nil
}

// Unfollow stops following partitions.
func (c *RestoreConsumer) Unfollow(tps ...TopicPartition) {
	remove := map[string][]int32{}
	for _, tp := range tps {
		if c.follow[tp] != nil {
			delete(c.follow, tp)
			remove[tp.Topic] = append(remove[tp.Topic], tp.Partition)
		}
	}
	c.cl.RemoveConsumePartitions(remove)
}

// Poll fetches once, waiting up to wait, applies what it got in batches of
// up to the restorer's BatchSize, and returns the restorations that are
// now done (finished or failed) and the errors of followed partitions,
// which are unfollowed. It returns a non-nil error only when ctx ends.
func (c *RestoreConsumer) Poll(ctx context.Context, wait time.Duration) ([]*Restoration, []*FollowError, error) {
	pctx, cancel := context.WithTimeout(ctx, wait)
	fetches := c.cl.PollFetches(pctx)
	cancel()
	if err := ctx.Err(); err != nil {
		return nil, nil, err
	}
	var done []*Restoration
	var ferrs []*FollowError
	fail := func(rs *Restoration, err error) {
		if rs.Err == nil {
			rs.Err = err
			c.Cancel(rs)
			done = append(done, rs)
		}
	}
	fetches.EachError(func(topic string, partition int32, err error) {
		if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
			return // our poll timeout
		}
		tp := TopicPartition{Topic: topic, Partition: partition}
		if ru := c.runs[tp]; ru != nil {
			if errors.Is(err, kerr.OffsetOutOfRange) {
				err = &OffsetOutOfRangeError{Store: ru.job.Store.Name(), Partition: tp, Offset: ru.pos, Start: -1, End: ru.end, Err: err}
			} else {
				err = fmt.Errorf("changelog: restore %s: %w", tp, err)
			}
			fail(c.owner[tp], err)
			return
		}
		if f := c.follow[tp]; f != nil {
			if errors.Is(err, kerr.OffsetOutOfRange) {
				err = &OffsetOutOfRangeError{Partition: tp, Offset: f.next, Start: -1, End: -1, Err: err}
			}
			ferrs = append(ferrs, &FollowError{Partition: tp, Err: err})
			c.Unfollow(tp)
		}
	})
	now := time.Now()
	fetches.EachPartition(func(fp kgo.FetchTopicPartition) {
		if len(fp.Records) == 0 {
			return
		}
		tp := TopicPartition{Topic: fp.Topic, Partition: fp.Partition}
		if f := c.follow[tp]; f != nil {
			if err := c.applyFollowed(f, fp); err != nil {
				ferrs = append(ferrs, &FollowError{Partition: tp, Err: err})
				c.Unfollow(tp)
			}
			return
		}
		ru := c.runs[tp]
		if ru == nil || ru.done {
			return // cancelled since it was fetched
		}
		ru.lastRecord = now
		if err := c.r.take(ru, fp.Records); err != nil {
			fail(c.owner[tp], err)
		}
	})
	remove := map[string][]int32{}
	for tp, ru := range c.runs {
		rs := c.owner[tp]
		if !ru.done && ru.pos < ru.end && now.Sub(ru.lastRecord) >= c.r.cfg.StallTimeout {
			// Gone quiet short of its end: only records the consumer
			// never returns may be left.
			if err := c.r.probe(ctx, ru); err != nil {
				c.r.logger.Warn("restore: probing a stalled changelog partition failed", "topic", tp.Topic,
					"partition", tp.Partition, "position", ru.pos, "end", ru.end, "err", err)
			}
			ru.lastRecord = time.Now()
		}
		if ru.pos < ru.end {
			continue
		}
		if err := c.r.finish(ru, rs.began); err != nil {
			fail(rs, err)
			continue
		}
		delete(c.runs, tp)
		delete(c.owner, tp)
		remove[tp.Topic] = append(remove[tp.Topic], tp.Partition)
		if rs.left--; rs.left == 0 {
			done = append(done, rs)
		}
	}
	c.cl.RemoveConsumePartitions(remove)
	if len(c.runs) > 0 && time.Since(c.lastLog) >= c.r.cfg.ProgressInterval {
		c.lastLog = time.Now()
		for tp, ru := range c.runs {
			c.r.logger.Info("restore progress", "store", ru.job.Store.Name(), "topic", tp.Topic, "partition", tp.Partition,
				"records_restored", ru.res.Restored+int64(len(ru.buf)), "records_left", ru.end-ru.pos,
				"elapsed", time.Since(c.owner[tp].began).Round(time.Millisecond))
		}
	}
	return done, ferrs, nil
}

// applyFollowed applies one fetch of a followed partition.
func (c *RestoreConsumer) applyFollowed(f *follower, fp kgo.FetchTopicPartition) error {
	data := make([]*kgo.Record, 0, len(fp.Records))
	for _, r := range fp.Records {
		if !r.Attrs.IsControl() && r.Offset >= f.next {
			data = append(data, r)
		}
	}
	next := max(f.next, fp.Records[len(fp.Records)-1].Offset+1)
	if err := f.apply(data, next, fp.HighWatermark); err != nil {
		return err
	}
	f.next = next
	return nil
}
