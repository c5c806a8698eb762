package runtime

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/kafki/kafki/changelog"
	"github.com/kafki/kafki/serde"
	"github.com/kafki/kafki/state"
	"github.com/kafki/kafki/topology"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// collector is a task's topology.RecordCollector and changelog.Sink: it
// hands records to the thread's producer asynchronously. Acknowledgements
// are awaited by the commit (kgo.Client.Flush), never per record.
type collector struct {
	cl      *kgo.Client
	task    *activeTask
	promise func(*kgo.Record, error) // bound once: no allocation per record

	// changelogs maps the task's changelog partitions to the next offset
	// after the last acknowledged record, for checkpoints. Each logged
	// store sends through its partition's changelogSink, whose promise
	// advances the counter: no lookup per record. Written on the thread's
	// goroutine before the task sends anything.
	changelogs map[changelog.TopicPartition]*atomic.Int64

	// in is the input record the task is processing (nil between
	// records): records sent then were caused by it, and a production
	// error names it. Records sent by punctuators and cache flushes have
	// no input record. Written and read on the thread's goroutine (Send).
	in *kgo.Record

	errMu sync.Mutex
	err   error // first production error a handler said to fail on
	// more counts the records that failed after err: the handler is not
	// asked about them (the commit fails anyway), so that one failure of
	// a full buffer logs once, not once per record.
	more int
}

// sourceContext is a produced record's Context: never canceled (the
// client's own context bounds the produce), it names the input record
// whose processing sent it, nil for none. A struct of one pointer is
// stored in the interface as is, so the produced record is the only
// allocation per send: a second object for the input position (and the
// changelog counter, now in the sink's promise) made every produced record
// 224 bytes instead of 160, the largest allocation of the cache-off path.
// The input record is franz-go's fetched record, which Kafki never
// modifies and the client never reuses (Kafki recycles no records).
type sourceContext struct{ in *kgo.Record }

func (sourceContext) Deadline() (time.Time, bool) { return time.Time{}, false }
func (sourceContext) Done() <-chan struct{}       { return nil }
func (sourceContext) Err() error                  { return nil }
func (sourceContext) Value(any) any               { return nil }

func newCollector(cl *kgo.Client, t *activeTask) *collector {
	c := &collector{cl: cl, task: t, changelogs: map[changelog.TopicPartition]*atomic.Int64{}}
	c.promise = c.onAck
	return c
}

// changelogSink is the state.ChangelogSink of one changelog partition of
// the task: the logging store of that partition sends through it only.
type changelogSink struct {
	c       *collector
	promise func(*kgo.Record, error) // onAck, then advances the partition's counter
}

func (s changelogSink) Send(topic string, partition int32, key, value []byte, headers []serde.Header, timestamp int64) error {
	return s.c.send(topic, partition, key, value, headers, timestamp, s.promise)
}

// changelogSink returns the sink of changelog partition tp, whose
// acknowledgements advance c.changelogs[tp].
func (c *collector) changelogSink(tp changelog.TopicPartition) state.ChangelogSink {
	next := c.changelogs[tp]
	if next == nil {
		next = &atomic.Int64{}
		c.changelogs[tp] = next
	}
	return changelogSink{c: c, promise: func(r *kgo.Record, err error) {
		if err != nil {
			c.failed(r, err)
			return
		}
		for {
			cur := next.Load()
			if r.Offset+1 <= cur || next.CompareAndSwap(cur, r.Offset+1) {
				return
			}
		}
	}}
}

// Send implements topology.RecordCollector.
func (c *collector) Send(topic string, partition int32, key, value []byte, headers []serde.Header, timestamp int64) error {
	return c.send(topic, partition, key, value, headers, timestamp, c.promise)
}

func (c *collector) send(topic string, partition int32, key, value []byte, headers []serde.Header, timestamp int64, promise func(*kgo.Record, error)) error {
	r := &kgo.Record{Topic: topic, Partition: partition, Key: key, Value: value, Context: sourceContext{c.in}}
	if timestamp >= 0 {
		r.Timestamp = timeFromMillis(timestamp)
	}
	if len(headers) > 0 {
		r.Headers = make([]kgo.RecordHeader, len(headers))
		for i, h := range headers {
			r.Headers[i] = kgo.RecordHeader{Key: h.Key, Value: h.Value}
		}
	}
	c.task.counters.produced.Add(1)
	c.task.th.txnSent++ // Send runs on the thread's goroutine only
	// The client's context: a record handed over is never canceled by a
	// commit's deadline; Close waits for it with its own context.
	c.cl.Produce(context.Background(), r, promise)
	return nil
}

func (c *collector) onAck(r *kgo.Record, err error) {
	if err != nil {
		c.failed(r, err)
	}
}

func (c *collector) failed(r *kgo.Record, err error) {
	t := c.task
	// Acknowledgements of several partitions may fail at once: the lock
	// keeps the handler to one call at a time, and none after one said
	// to fail.
	c.errMu.Lock()
	defer c.errMu.Unlock()
	if c.err != nil {
		c.more++
		return
	}
	if t.th.failed.Load() || errors.Is(err, kgo.ErrAborting) {
		// The thread gave up already, or aborted the transaction, and
		// with it what it had buffered: these failures are its own
		// doing, not the broker's answer (Kafka Streams swallows
		// TransactionAbortedException likewise).
		return
	}
	if producerMigrated(err) {
		// The producer was fenced or lost its epoch or sequence: "task
		// migrated" (as Kafka Streams' RecordCollectorImpl decides,
		// without the production handler, which could otherwise let
		// the records go and commit past them). The commit fails with
		// it and the thread rejoins with its tasks closed dirty.
		c.err = taskMigrated(fmt.Errorf("send to %s/%d: %w", r.Topic, r.Partition, err))
		return
	}
	raw := &topology.RawRecord{Topic: r.Topic, Partition: r.Partition, Offset: -1,
		Key: r.Key, Value: r.Value, Timestamp: r.Timestamp.UnixMilli()}
	for _, h := range r.Headers {
		raw.Headers = append(raw.Headers, serde.Header{Key: h.Key, Value: h.Value})
	}
	hctx := t.handlerContext()
	hctx.Topic, hctx.Partition, hctx.Offset = "", -1, -1
	if src, ok := r.Context.(sourceContext); ok && src.in != nil {
		hctx.Topic, hctx.Partition, hctx.Offset = src.in.Topic, src.in.Partition, src.in.Offset
	}
	if t.th.app.cfg.onProduce(hctx, raw, err) == Continue {
		t.th.app.metrics.drop(DropProduction)
		return
	}
	where := fmt.Sprintf("send to %s/%d", r.Topic, r.Partition)
	if hctx.Topic != "" {
		where += fmt.Sprintf(" for input record %s/%d@%d", hctx.Topic, hctx.Partition, hctx.Offset)
	}
	c.err = fmt.Errorf("%s: %w", where, err)
}

// produceErr returns the first production error that must fail the commit,
// with the number of records that failed after it.
func (c *collector) produceErr() error {
	c.errMu.Lock()
	defer c.errMu.Unlock()
	if c.err != nil && c.more > 0 {
		return fmt.Errorf("%w (and %d more records failed)", c.err, c.more)
	}
	return c.err
}

// producerMigrated reports whether a record failed because the producer
// was fenced or lost its epoch or sequence: errors no production handler
// decides on.
func producerMigrated(err error) bool {
	return errors.Is(err, kerr.ProducerFenced) || errors.Is(err, kerr.InvalidProducerEpoch) ||
		errors.Is(err, kerr.InvalidProducerIDMapping) || errors.Is(err, kerr.OutOfOrderSequenceNumber)
}
