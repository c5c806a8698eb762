package connect

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"strconv"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kafki/kafki/serde"
)

// sinkRunner runs one sink task: it consumes in the group connect-<name>,
// converts and transforms, Puts batches, and commits consumer offsets only
// after the task's Flush.
type sinkRunner struct {
	w          *Worker
	name       string
	id         int
	task       SinkTask
	cfg        Config
	key, value Converter
	transforms []Transformation
	flushEvery time.Duration

	cl        *kgo.Client
	mu        sync.Mutex // task calls and offsets: the revoke callback runs on another goroutine
	offsets   map[TopicPartition]int64
	dirty     bool
	assigned  map[TopicPartition]bool
	tolerant  bool
	dlq       string
	dlqHeader bool
	errMu     sync.Mutex
	dlqErr    error
}

func (r *sinkRunner) Assignment() []TopicPartition {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]TopicPartition, 0, len(r.assigned))
	for tp := range r.assigned {
		out = append(out, tp)
	}
	return out
}

// Logger implements SinkTaskContext.
func (r *sinkRunner) Logger() *slog.Logger { return r.w.log.With("connector", r.name, "task", r.id) }

func (r *sinkRunner) run(ctx context.Context) error {
	tol, err := r.cfg.OneOf("errors.tolerance", "none", "none", "all")
	if err != nil {
		return err
	}
	r.tolerant = tol == "all"
	r.dlq = r.cfg.String("errors.deadletterqueue.topic.name", "")
	if r.dlqHeader, err = r.cfg.Bool("errors.deadletterqueue.context.headers.enable", false); err != nil {
		return err
	}
	opts := append([]kgo.Opt(nil), r.w.base...)
	// Kafka Connect's consumer.* worker settings and, per connector,
	// consumer.override.*: the session timeout decides how soon the
	// partitions of a task on a dead worker move.
	session, err := r.w.cfg.Millis("consumer.session.timeout.ms", 45*time.Second)
	if err != nil {
		return err
	}
	if session, err = r.cfg.Millis("consumer.override.session.timeout.ms", session); err != nil {
		return err
	}
	opts = append(opts, kgo.SessionTimeout(session), kgo.HeartbeatInterval(min(3*time.Second, session/3)))
	opts = append(opts,
		kgo.ConsumerGroup(r.cfg.String("consumer.group.id", "connect-"+r.name)),
		kgo.DisableAutoCommit(),
		kgo.BlockRebalanceOnPoll(),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.OnPartitionsAssigned(func(_ context.Context, _ *kgo.Client, m map[string][]int32) {
			r.mu.Lock()
			for t, ps := range m {
				for _, p := range ps {
					r.assigned[TopicPartition{t, p}] = true
				}
			}
			r.mu.Unlock()
		}),
		kgo.OnPartitionsRevoked(func(ctx context.Context, _ *kgo.Client, m map[string][]int32) {
			r.revoke(ctx, m, true)
		}),
		kgo.OnPartitionsLost(func(ctx context.Context, _ *kgo.Client, m map[string][]int32) {
			r.revoke(ctx, m, false)
		}),
	)
	topics := r.cfg.List("topics")
	if re := r.cfg.String("topics.regex", ""); re != "" {
		if _, err := regexp.Compile(re); err != nil {
			return configErr("topics.regex", "%v", err)
		}
		opts = append(opts, kgo.ConsumeRegex(), kgo.ConsumeTopics(re))
	} else if len(topics) > 0 {
		opts = append(opts, kgo.ConsumeTopics(topics...))
	} else {
		return configErr("topics", "a sink connector needs topics or topics.regex")
	}
	r.offsets = map[TopicPartition]int64{}
	r.assigned = map[TopicPartition]bool{}
	if err := r.task.Start(r, r.cfg); err != nil {
		return fmt.Errorf("start: %w", err)
	}
	defer r.task.Stop()
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return err
	}
	r.cl = cl
	defer func() {
		// Commit what is flushed, then leave the group cleanly.
		cctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		r.mu.Lock()
		if err := r.flushLocked(cctx); err != nil {
			r.w.log.Warn("final flush", "connector", r.name, "err", err)
		}
		r.mu.Unlock()
		cl.Close()
	}()
	last := time.Now()
	for ctx.Err() == nil {
		pctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
		fs := cl.PollRecords(pctx, 5000)
		cancel()
		var ferr error
		fs.EachError(func(t string, p int32, err error) {
			if !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled) {
				ferr = fmt.Errorf("fetch %s[%d]: %w", t, p, err)
			}
		})
		if ferr != nil {
			r.w.log.Warn("fetch error", "connector", r.name, "err", ferr)
		}
		if err := r.put(fs.Records()); err != nil {
			cl.AllowRebalance()
			return err
		}
		cl.AllowRebalance()
		if time.Since(last) >= r.flushEvery {
			r.mu.Lock()
			err := r.flushLocked(ctx)
			r.mu.Unlock()
			if err != nil && ctx.Err() == nil {
				return err
			}
			last = time.Now()
		}
	}
	return nil
}

func (r *sinkRunner) put(recs []*kgo.Record) error {
	if len(recs) == 0 {
		return nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	batch := make([]SinkRecord, 0, len(recs))
	for _, kr := range recs {
		sr, err := r.convert(kr)
		if err != nil {
			if !r.tolerant {
				return fmt.Errorf("%s[%d]@%d: %w (set errors.tolerance=all to skip such records)", kr.Topic, kr.Partition, kr.Offset, err)
			}
			r.w.log.Warn("record skipped", "connector", r.name, "topic", kr.Topic, "partition", kr.Partition, "offset", kr.Offset, "err", err)
			if r.dlq != "" {
				r.toDLQ(kr, err)
			}
		} else if sr != nil {
			batch = append(batch, *sr)
		}
		r.offsets[TopicPartition{kr.Topic, kr.Partition}] = kr.Offset + 1
		r.dirty = true
	}
	if len(batch) == 0 {
		return nil
	}
	if err := r.task.Put(batch); err != nil {
		return fmt.Errorf("put: %w", err)
	}
	return nil
}

// convert turns a Kafka record into a sink record; nil when a transform
// dropped it.
func (r *sinkRunner) convert(kr *kgo.Record) (*SinkRecord, error) {
	hs := make([]serde.Header, len(kr.Headers))
	for i, h := range kr.Headers {
		hs[i] = serde.Header{Key: h.Key, Value: h.Value}
	}
	ks, k, err := r.key.ToConnectData(kr.Topic, hs, kr.Key)
	if err != nil {
		return nil, fmt.Errorf("key converter: %w", err)
	}
	vs, v, err := r.value.ToConnectData(kr.Topic, hs, kr.Value)
	if err != nil {
		return nil, fmt.Errorf("value converter: %w", err)
	}
	rec := &Record{Topic: kr.Topic, Partition: kr.Partition, KeySchema: ks, Key: k, ValueSchema: vs, Value: v, Timestamp: kr.Timestamp, Headers: hs}
	out, err := ApplyAll(r.transforms, rec)
	if err != nil {
		return nil, fmt.Errorf("transform: %w", err)
	}
	if out == nil {
		return nil, nil
	}
	return &SinkRecord{Record: *out, KafkaOffset: kr.Offset, OriginalKey: kr.Key, OriginalValue: kr.Value}, nil
}

// toDLQ sends the original record to the dead-letter queue, with the
// error in __connect.errors.* headers when asked.
func (r *sinkRunner) toDLQ(kr *kgo.Record, cause error) {
	d := &kgo.Record{Topic: r.dlq, Key: kr.Key, Value: kr.Value, Headers: append([]kgo.RecordHeader(nil), kr.Headers...)}
	if r.dlqHeader {
		add := func(k, v string) {
			d.Headers = append(d.Headers, kgo.RecordHeader{Key: "__connect.errors." + k, Value: []byte(v)})
		}
		add("topic", kr.Topic)
		add("partition", strconv.Itoa(int(kr.Partition)))
		add("offset", strconv.FormatInt(kr.Offset, 10))
		add("connector.name", r.name)
		add("task.id", strconv.Itoa(r.id))
		add("stage", "VALUE_CONVERTER")
		add("exception.class.name", "org.apache.kafka.connect.errors.DataException")
		add("exception.message", cause.Error())
	}
	if err := ensureTopic(context.Background(), r.cl, r.dlq, 1, nil); err != nil {
		r.setDLQErr(err)
		return
	}
	r.cl.Produce(context.Background(), d, func(_ *kgo.Record, err error) {
		if err != nil {
			r.setDLQErr(err)
		}
	})
}

func (r *sinkRunner) setDLQErr(err error) {
	r.errMu.Lock()
	if r.dlqErr == nil {
		r.dlqErr = err
	}
	r.errMu.Unlock()
}

// flushLocked flushes the task and the DLQ, then commits the offsets.
func (r *sinkRunner) flushLocked(ctx context.Context) error {
	if !r.dirty {
		return nil
	}
	if err := r.task.Flush(r.offsets); err != nil {
		return fmt.Errorf("flush: %w", err)
	}
	if r.dlq != "" {
		if err := r.cl.Flush(ctx); err != nil {
			return fmt.Errorf("flush dead-letter queue: %w", err)
		}
		r.errMu.Lock()
		err := r.dlqErr
		r.errMu.Unlock()
		if err != nil {
			return fmt.Errorf("dead-letter queue %s: %w", r.dlq, err)
		}
	}
	commit := map[string]map[int32]kgo.EpochOffset{}
	for tp, o := range r.offsets {
		if commit[tp.Topic] == nil {
			commit[tp.Topic] = map[int32]kgo.EpochOffset{}
		}
		commit[tp.Topic][tp.Partition] = kgo.EpochOffset{Epoch: -1, Offset: o}
	}
	var cerr error
	r.cl.CommitOffsetsSync(ctx, commit, func(_ *kgo.Client, _ *kmsgOffsetCommitRequest, resp *kmsgOffsetCommitResponse, err error) {
		cerr = err
		if err == nil {
			cerr = commitRespErr(resp)
		}
	})
	if cerr != nil {
		return fmt.Errorf("commit offsets: %w", cerr)
	}
	r.dirty = false
	return nil
}

// revoke flushes and commits before partitions go (not when they were
// lost: another member may own them already), then forgets them.
func (r *sinkRunner) revoke(ctx context.Context, m map[string][]int32, commit bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if commit {
		if err := r.flushLocked(ctx); err != nil {
			r.w.log.Warn("flush on revoke", "connector", r.name, "err", err)
		}
	}
	for t, ps := range m {
		for _, p := range ps {
			delete(r.offsets, TopicPartition{t, p})
			delete(r.assigned, TopicPartition{t, p})
		}
	}
}
