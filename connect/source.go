package connect

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// sourceRunner runs one source task: poll, transform, convert, produce,
// and periodically store offsets once the records are acknowledged.
type sourceRunner struct {
	w          *Worker
	name       string
	id         int
	task       SourceTask
	cfg        Config
	key, value Converter
	transforms []Transformation
	flushEvery time.Duration
	eos        bool

	cl      *kgo.Client
	topics  map[string]bool
	pending map[string]OffsetEntry // latest offset per source partition since the last commit
	errMu   sync.Mutex
	prodErr error
}

func (r *sourceRunner) run(ctx context.Context) error {
	opts := append([]kgo.Opt(nil), r.w.base...)
	opts = append(opts, kgo.ProducerLinger(5*time.Millisecond), kgo.MaxBufferedRecords(100_000))
	if r.eos {
		group := r.w.cfg.String("group.id", "connect-cluster")
		opts = append(opts, kgo.TransactionalID(group+"-"+taskID(r.name, r.id)), kgo.TransactionTimeout(60*time.Second))
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return err
	}
	r.cl = cl
	defer cl.Close()
	r.topics = map[string]bool{}
	r.pending = map[string]OffsetEntry{}
	if err := r.loadOffsets(ctx); err != nil {
		return err
	}
	if err := r.task.Start(sourceContext{connectorOffsets{r.name, r.w.offsets}, r.w.log.With("connector", r.name, "task", r.id)}, r.cfg); err != nil {
		return fmt.Errorf("start: %w", err)
	}
	defer r.task.Stop()
	last := time.Now()
	for ctx.Err() == nil {
		recs, err := r.task.Poll(ctx)
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			return fmt.Errorf("poll: %w", err)
		}
		if r.eos {
			if len(recs) > 0 {
				if err := r.transaction(ctx, recs); err != nil {
					return err
				}
			}
			continue
		}
		for i := range recs {
			if err := r.send(ctx, &recs[i]); err != nil {
				return err
			}
		}
		if time.Since(last) >= r.flushEvery {
			// Not ctx: a stop must not cut a commit in half.
			cctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			err := r.commit(cctx)
			cancel()
			if err != nil {
				return err
			}
			last = time.Now()
		}
	}
	if r.eos {
		return nil
	}
	// Store what was acknowledged before stopping, bounded in time.
	cctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	r.w.log.Debug("final commit", "connector", r.name, "task", r.id, "pending", len(r.pending))
	return r.commit(cctx)
}

// loadOffsets reads the offsets topic to its end before the task starts:
// the task may have run on another worker until a moment ago. Under
// exactly-once the task's transactional producer is initialised first,
// which fences a previous owner still alive and aborts the transaction a
// dead one left open, so that no offset can be committed after the read
// (KIP-618's order). Errors are retried until ctx ends.
func (r *sourceRunner) loadOffsets(ctx context.Context) error {
	ks, ok := r.w.offsets.(*KafkaOffsetStore)
	if !ok {
		return nil
	}
	log := r.w.log.With("connector", r.name, "task", r.id)
	backoff := 100 * time.Millisecond
	for {
		began := time.Now()
		err := error(nil)
		if r.eos {
			if _, _, err = r.cl.ProducerID(ctx); err != nil {
				err = fmt.Errorf("initialise the transactional producer: %w", err)
			}
		}
		var n int
		if err == nil {
			n, err = ks.Refresh(ctx)
		}
		if err == nil {
			log.Info("source offsets read", "partitions_with_offsets", n, "took", time.Since(began).Round(time.Millisecond))
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		log.Warn("source offsets not read yet; retrying", "err", err)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 5*time.Second)
	}
}

// send transforms, converts and produces one record and notes its offset.
func (r *sourceRunner) send(ctx context.Context, sr *SourceRecord) error {
	if sr.SourcePartition != nil {
		k, err := offsetKey(r.name, sr.SourcePartition)
		if err != nil {
			return fmt.Errorf("source partition: %w", err)
		}
		r.pending[string(k)] = OffsetEntry{Partition: sr.SourcePartition, Offset: sr.SourceOffset}
	}
	rec, err := ApplyAll(r.transforms, &sr.Record)
	if err != nil {
		return fmt.Errorf("transform: %w", err)
	}
	if rec == nil {
		return nil
	}
	kr, err := r.toKafka(rec)
	if err != nil {
		return err
	}
	if !r.topics[kr.Topic] {
		if err := r.ensureTopic(ctx, kr.Topic); err != nil {
			return err
		}
	}
	// Produce outlives ctx so that records in flight when the worker
	// stops are acknowledged and their offsets stored.
	r.cl.Produce(context.Background(), kr, func(_ *kgo.Record, err error) {
		if err != nil {
			r.errMu.Lock()
			if r.prodErr == nil {
				r.prodErr = err
			}
			r.errMu.Unlock()
		}
	})
	return nil
}

func (r *sourceRunner) ensureTopic(ctx context.Context, topic string) error {
	parts, err := r.cfg.Int("topic.creation.default.partitions", 1)
	if err != nil {
		return err
	}
	if err := ensureTopic(ctx, r.cl, topic, int32(parts), nil); err != nil {
		return err
	}
	r.topics[topic] = true
	return nil
}

func (r *sourceRunner) toKafka(rec *Record) (*kgo.Record, error) {
	k, err := r.key.FromConnectData(rec.Topic, rec.Headers, rec.KeySchema, rec.Key)
	if err != nil {
		return nil, fmt.Errorf("convert key for %s: %w", rec.Topic, err)
	}
	v, err := r.value.FromConnectData(rec.Topic, rec.Headers, rec.ValueSchema, rec.Value)
	if err != nil {
		return nil, fmt.Errorf("convert value for %s: %w", rec.Topic, err)
	}
	kr := &kgo.Record{Topic: rec.Topic, Key: k, Value: v, Timestamp: rec.Timestamp}
	for _, h := range rec.Headers {
		kr.Headers = append(kr.Headers, kgo.RecordHeader{Key: h.Key, Value: h.Value})
	}
	return kr, nil
}

func (r *sourceRunner) produceErr() error {
	r.errMu.Lock()
	defer r.errMu.Unlock()
	return r.prodErr
}

// commit waits for every record produced so far, stores their offsets and
// tells the task.
func (r *sourceRunner) commit(ctx context.Context) error {
	if err := r.cl.Flush(ctx); err != nil {
		return fmt.Errorf("flush: %w", err)
	}
	if err := r.produceErr(); err != nil {
		return fmt.Errorf("produce: %w", err)
	}
	if len(r.pending) == 0 {
		// Nothing to store, but everything polled is acknowledged: the
		// task may release it (a replication slot past skipped changes).
		return r.task.Commit()
	}
	entries := make([]OffsetEntry, 0, len(r.pending))
	for _, e := range r.pending {
		entries = append(entries, e)
	}
	r.w.log.Debug("storing source offsets", "connector", r.name, "task", r.id, "partitions", len(entries))
	if err := r.w.offsets.Put(r.name, entries); err != nil {
		return fmt.Errorf("store offsets: %w", err)
	}
	clear(r.pending)
	if err := r.task.Commit(); err != nil {
		return fmt.Errorf("task commit: %w", err)
	}
	return nil
}

// transaction writes one poll's records and their offsets atomically
// (KIP-618's poll boundary): a crash before the commit leaves neither.
func (r *sourceRunner) transaction(ctx context.Context, recs []SourceRecord) error {
	ks, ok := r.w.offsets.(*KafkaOffsetStore)
	if !ok {
		return errors.New("exactly-once source support needs offsets in a Kafka topic")
	}
	if err := r.cl.BeginTransaction(); err != nil {
		return fmt.Errorf("begin transaction: %w", err)
	}
	abort := func(cause error) error {
		actx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = r.cl.AbortBufferedRecords(actx)
		_ = r.cl.EndTransaction(actx, kgo.TryAbort)
		return cause
	}
	for i := range recs {
		if err := r.send(ctx, &recs[i]); err != nil {
			return abort(err)
		}
	}
	entries := make([]OffsetEntry, 0, len(r.pending))
	for _, e := range r.pending {
		entries = append(entries, e)
	}
	offRecs, err := ks.Records(r.name, entries)
	if err != nil {
		return abort(err)
	}
	for _, or := range offRecs {
		r.cl.Produce(context.Background(), or, func(_ *kgo.Record, err error) {
			if err != nil {
				r.errMu.Lock()
				if r.prodErr == nil {
					r.prodErr = err
				}
				r.errMu.Unlock()
			}
		})
	}
	if err := r.cl.Flush(ctx); err != nil {
		return abort(fmt.Errorf("flush: %w", err))
	}
	if err := r.produceErr(); err != nil {
		return abort(fmt.Errorf("produce: %w", err))
	}
	if err := r.cl.EndTransaction(ctx, kgo.TryCommit); err != nil {
		return abort(fmt.Errorf("commit transaction: %w", err))
	}
	ks.Applied(offRecs)
	clear(r.pending)
	if err := r.task.Commit(); err != nil {
		return fmt.Errorf("task commit: %w", err)
	}
	return nil
}
