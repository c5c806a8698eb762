package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

// broker is the cluster of a run.
type broker struct {
	addrs []string
	fake  *kfake.Cluster
}

// startBroker starts an in-process kfake broker, or uses addrs.
func startBroker(addrs []string) (*broker, error) {
	if len(addrs) > 0 {
		return &broker{addrs: addrs}, nil
	}
	c, err := kfake.NewCluster(kfake.NumBrokers(1))
	if err != nil {
		return nil, fmt.Errorf("start kfake: %w", err)
	}
	return &broker{addrs: c.ListenAddrs(), fake: c}, nil
}

func (b *broker) close() {
	if b.fake != nil {
		b.fake.Close()
	}
}

func (b *broker) describe() string {
	if b.fake != nil {
		return "one in-process kfake broker (franz-go) in the parent process; each scenario runs in a child process, so the broker's CPU and memory are not in its figures"
	}
	return "the cluster at " + strings.Join(b.addrs, ",") + "; each scenario runs in a child process of the bench"
}

func (b *broker) admin() (*kadm.Client, func(), error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.addrs...))
	if err != nil {
		return nil, nil, fmt.Errorf("admin client: %w", err)
	}
	return kadm.NewClient(cl), cl.Close, nil
}

// createTopic creates a topic on e's broker.
func createTopic(ctx context.Context, e env, name string, partitions int) error {
	b := &broker{addrs: e.Brokers}
	return b.createTopic(ctx, name, partitions, nil)
}

func (b *broker) createTopic(ctx context.Context, name string, partitions int, configs map[string]*string) error {
	adm, done, err := b.admin()
	if err != nil {
		return err
	}
	defer done()
	resp, err := adm.CreateTopic(ctx, int32(partitions), -1, configs, name)
	if err == nil {
		err = resp.Err
	}
	if err != nil {
		return fmt.Errorf("create topic %s: %w", name, err)
	}
	return nil
}

// deleteTopics deletes every topic whose name starts with prefix, so that
// an in-memory broker does not keep a finished scenario's records.
func (b *broker) deleteTopics(ctx context.Context, prefix string) error {
	adm, done, err := b.admin()
	if err != nil {
		return err
	}
	defer done()
	topics, err := adm.ListTopics(ctx)
	if err != nil {
		return err
	}
	var del []string
	for _, t := range topics.Names() {
		if strings.HasPrefix(t, prefix) {
			del = append(del, t)
		}
	}
	if len(del) == 0 {
		return nil
	}
	resp, err := adm.DeleteTopics(ctx, del...)
	if err != nil {
		return err
	}
	return resp.Error()
}

// producer writes many records fast and remembers the first failure.
type producer struct {
	cl   *kgo.Client
	mu   sync.Mutex
	err  error
	sent int64
}

// newProducer returns a producer that writes each record to the partition
// it names, unless a partitioner is given.
func newProducer(addrs []string, partitioner ...kgo.Partitioner) (*producer, error) {
	part := kgo.Partitioner(kgo.ManualPartitioner())
	if len(partitioner) > 0 {
		part = partitioner[0]
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(addrs...), kgo.ProducerLinger(5*time.Millisecond),
		kgo.ProducerBatchMaxBytes(1<<20), kgo.MaxBufferedRecords(200_000), kgo.RecordPartitioner(part))
	if err != nil {
		return nil, fmt.Errorf("producer: %w", err)
	}
	return &producer{cl: cl}, nil
}

func (p *producer) send(ctx context.Context, r *kgo.Record) {
	p.cl.Produce(ctx, r, func(_ *kgo.Record, err error) {
		if err != nil {
			p.mu.Lock()
			if p.err == nil {
				p.err = err
			}
			p.mu.Unlock()
		}
	})
	p.sent++
}

// finish flushes and closes the client.
func (p *producer) finish(ctx context.Context) error {
	defer p.cl.Close()
	if err := p.cl.Flush(ctx); err != nil {
		return err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.err
}

// prepare produces the input a scenario needs and records it in e.
func prepare(ctx context.Context, b *broker, e *env, what string) error {
	switch what {
	case "lines":
		e.LinesTopic = "kafki-bench-lines-" + e.RunID
		e.Words = e.Records * wordsPerLine
		return prepareLines(ctx, b, e.LinesTopic, e.Records, e.Partitions, 1)
	case "lines-1p":
		e.Lines1PTopic = "kafki-bench-lines-1p-" + e.RunID
		e.Words = e.Records * wordsPerLine
		return prepareLines(ctx, b, e.Lines1PTopic, e.Records, 1, 1)
	case "window-lines":
		e.WindowLinesTopic = "kafki-bench-window-lines-" + e.RunID
		e.WindowWords = e.WindowRecords * wordsPerLine
		// 100 ms of event time a line: 50,000 lines span 83 minutes, so
		// that about 500 of the hopping scenario's 60 s windows (advancing
		// by 10 s) close.
		return prepareLines(ctx, b, e.WindowLinesTopic, e.WindowRecords, e.Partitions, 100)
	case "window-lines-1p":
		e.WindowLines1PTopic = "kafki-bench-window-lines-1p-" + e.RunID
		e.WindowWords = e.WindowRecords * wordsPerLine
		return prepareLines(ctx, b, e.WindowLines1PTopic, e.WindowRecords, 1, 100)
	case "restore":
		return prepareRestore(ctx, b, e)
	case "nexmark":
		e.NexmarkTopic = "kafki-bench-nexmark-" + e.RunID
		return prepareNexmark(ctx, b, e.NexmarkTopic, e.Events, e.Partitions)
	case "nexmark-window":
		e.NexmarkWindowTopic = "kafki-bench-nexmark-window-" + e.RunID
		return prepareNexmark(ctx, b, e.NexmarkWindowTopic, e.WindowEvents, e.Partitions)
	}
	return fmt.Errorf("unknown input %q", what)
}

// eventTimeBase is the event time of the first generated record: a whole
// hour before now, recent enough for the broker's retention.
func eventTimeBase() int64 {
	return time.Now().Add(-time.Hour).Truncate(time.Hour).UnixMilli()
}

// vocabulary is the number of distinct words in the lines.
const vocabulary = 10_000

// wordsPerLine is how many words each line holds.
const wordsPerLine = 4

// prepareLines writes n lines of wordsPerLine words drawn uniformly from
// a vocabulary of vocabulary words ("w0042"), with null keys, round-robin
// over the partitions of topic, event times stepMs apart.
func prepareLines(ctx context.Context, b *broker, topic string, n int64, partitions int, stepMs int64) error {
	if err := b.createTopic(ctx, topic, partitions, nil); err != nil {
		return err
	}
	p, err := newProducer(b.addrs)
	if err != nil {
		return err
	}
	rng := rand.New(rand.NewPCG(1, 2))
	base := eventTimeBase()
	for i := int64(0); i < n; i++ {
		v := make([]byte, 0, wordsPerLine*6)
		for w := range wordsPerLine {
			if w > 0 {
				v = append(v, ' ')
			}
			v = fmt.Appendf(v, "w%04d", rng.IntN(vocabulary))
		}
		p.send(ctx, &kgo.Record{Topic: topic, Partition: int32(i % int64(partitions)), Value: v,
			Timestamp: time.UnixMilli(base + i*stepMs)})
	}
	return p.finish(ctx)
}

// prepareRestore writes a compacted changelog of e.RestoreKeys distinct
// keys ("key-0000042") with 16-byte values, in one partition.
func prepareRestore(ctx context.Context, b *broker, e *env) error {
	// Not under "bench-restore-<run>": that prefix is deleted after the
	// restore scenario, and restore-pebble reads the same input.
	e.RestoreTopic = "bench-input-restore-" + e.RunID + "-changelog"
	if err := b.createTopic(ctx, e.RestoreTopic, 1, map[string]*string{"cleanup.policy": kadm.StringPtr("compact")}); err != nil {
		return err
	}
	p, err := newProducer(b.addrs)
	if err != nil {
		return err
	}
	for i := int64(0); i < e.RestoreKeys; i++ {
		p.send(ctx, &kgo.Record{Topic: e.RestoreTopic, Key: fmt.Appendf(nil, "key-%07d", i), Value: fmt.Appendf(nil, "value-%010d", i*7)})
	}
	return p.finish(ctx)
}
