package runtime

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

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
	// store sends through its partition's changelogSink, whose records
	// carry the counter to their acknowledgement: no lookup per record.
	// Written on the thread's goroutine before the task sends anything.
	changelogs map[changelog.TopicPartition]*atomic.Int64

	// inRecord is set while the task processes an input record (t.raw):
	// records sent then were caused by it, and a production error names
	// it. Records sent by punctuators and cache flushes have no input
	// record. Written and read on the thread's goroutine (Send).
	inRecord bool

	errMu sync.Mutex
	err   error // first production error a handler said to fail on
	// more counts the records that failed after err: the handler is not
	// asked about them (the commit fails anyway), so that one failure of
	// a full buffer logs once, not once per record.
	more int
}

// sentRecord is a produced record with the position of the input record
// that caused it, in one allocation. The record's Context points at src,
// which the acknowledgement reads back. A fresh one per record costs less
// than a pool here: a pooled record comes back from the producer's
// goroutines cold in another core's cache, and taking it for the next
// send cost more than allocating. Taking records from chunks of 32 (one
// allocation per chunk) made no difference that paired kafki-bench runs
// could see (they went both ways), so the simpler code stays.
type sentRecord struct {
	rec kgo.Record
	src sourceContext
}

// sourceContext is a produced record's Context: never canceled (the
// client's own context bounds the produce), carrying the input position.
type sourceContext struct {
	context.Context
	topic     string
	partition int32
	offset    int64
	// next is the changelog partition's acknowledged offset counter, nil
	// for records that are not changelog records.
	next *atomic.Int64
}

func newCollector(cl *kgo.Client, t *activeTask) *collector {
	c := &collector{cl: cl, task: t, changelogs: map[changelog.TopicPartition]*atomic.Int64{}}
	c.promise = c.onAck
	return c
}

// changelogSink is the state.ChangelogSink of one changelog partition of
// the task: the logging store of that partition sends through it only.
type changelogSink struct {
	c    *collector
	next *atomic.Int64
}

func (s changelogSink) Send(topic string, partition int32, key, value []byte, headers []serde.Header, timestamp int64) error {
	return s.c.send(topic, partition, key, value, headers, timestamp, s.next)
}

// changelogSink returns the sink of changelog partition tp, whose
// acknowledgements advance c.changelogs[tp].
func (c *collector) changelogSink(tp changelog.TopicPartition) state.ChangelogSink {
	next := c.changelogs[tp]
	if next == nil {
		next = &atomic.Int64{}
		c.changelogs[tp] = next
	}
	return changelogSink{c: c, next: next}
}

// Send implements topology.RecordCollector.
func (c *collector) Send(topic string, partition int32, key, value []byte, headers []serde.Header, timestamp int64) error {
	return c.send(topic, partition, key, value, headers, timestamp, nil)
}

func (c *collector) send(topic string, partition int32, key, value []byte, headers []serde.Header, timestamp int64, next *atomic.Int64) error {
	sent := &sentRecord{src: sourceContext{Context: context.Background(), partition: -1, offset: -1, next: next}}
	if c.inRecord {
		raw := &c.task.raw
		sent.src.topic, sent.src.partition, sent.src.offset = raw.Topic, raw.Partition, raw.Offset
	}
	r := &sent.rec
	r.Topic, r.Partition, r.Key, r.Value, r.Context = topic, partition, key, value, &sent.src
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
	c.cl.Produce(context.Background(), r, c.promise)
	return nil
}

func (c *collector) onAck(r *kgo.Record, err error) {
	if err != nil {
		c.failed(r, err)
		return
	}
	if src, ok := r.Context.(*sourceContext); ok && src.next != nil {
		for {
			cur := src.next.Load()
			if r.Offset+1 <= cur || src.next.CompareAndSwap(cur, r.Offset+1) {
				break
			}
		}
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
	if src, ok := r.Context.(*sourceContext); ok {
		hctx.Topic, hctx.Partition, hctx.Offset = src.topic, src.partition, src.offset
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
