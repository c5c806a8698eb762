package runtime

import (
	"context"
	"sync"
	"sync/atomic"

	"github.com/kafki/kafki/changelog"
	"github.com/kafki/kafki/serde"
	"github.com/kafki/kafki/topology"
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
	// after the last acknowledged record, for checkpoints.
	changelogs map[changelog.TopicPartition]*atomic.Int64

	errMu sync.Mutex
	err   error // first production error a handler said to fail on
}

var recordPool = sync.Pool{New: func() any { return new(kgo.Record) }}

func newCollector(cl *kgo.Client, t *activeTask) *collector {
	c := &collector{cl: cl, task: t, changelogs: map[changelog.TopicPartition]*atomic.Int64{}}
	c.promise = c.onAck
	return c
}

// Send implements topology.RecordCollector.
func (c *collector) Send(topic string, partition int32, key, value []byte, headers []serde.Header, timestamp int64) error {
	r := recordPool.Get().(*kgo.Record)
	*r = kgo.Record{Topic: topic, Partition: partition, Key: key, Value: value}
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
	} else if len(c.changelogs) > 0 {
		if next := c.changelogs[changelog.TopicPartition{Topic: r.Topic, Partition: r.Partition}]; next != nil {
			for {
				cur := next.Load()
				if r.Offset+1 <= cur || next.CompareAndSwap(cur, r.Offset+1) {
					break
				}
			}
		}
	}
	*r = kgo.Record{}
	recordPool.Put(r)
}

func (c *collector) failed(r *kgo.Record, err error) {
	t := c.task
	raw := &topology.RawRecord{Topic: r.Topic, Partition: r.Partition, Offset: -1,
		Key: r.Key, Value: r.Value, Timestamp: r.Timestamp.UnixMilli()}
	for _, h := range r.Headers {
		raw.Headers = append(raw.Headers, serde.Header{Key: h.Key, Value: h.Value})
	}
	if t.th.app.cfg.onProduce(t.handlerContext(), raw, err) == Continue {
		t.th.app.metrics.drop(DropProduction)
		return
	}
	c.errMu.Lock()
	if c.err == nil {
		c.err = err
	}
	c.errMu.Unlock()
}

// produceErr returns the first production error that must fail the commit.
func (c *collector) produceErr() error {
	c.errMu.Lock()
	defer c.errMu.Unlock()
	return c.err
}
