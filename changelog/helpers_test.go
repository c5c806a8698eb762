package changelog

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kafki/kafki/internal/kafkatest"
	"github.com/kafki/kafki/serde"
	"github.com/kafki/kafki/state"
)

// producerSink is a Sink that produces to the cluster, as the runtime's
// record collector does.
type producerSink struct {
	cl *kgo.Client
	mu sync.Mutex
	n  int
	// err is the first produce error.
	err error
}

func newProducerSink(t testing.TB, c *kafkatest.Cluster) *producerSink {
	return &producerSink{cl: c.Client(kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.ProducerLinger(0))}
}

func (s *producerSink) Send(topic string, partition int32, key, value []byte, headers []serde.Header, timestamp int64) error {
	rec := &kgo.Record{Topic: topic, Partition: partition, Key: key, Value: value, Timestamp: time.UnixMilli(timestamp)}
	for _, h := range headers {
		rec.Headers = append(rec.Headers, kgo.RecordHeader{Key: h.Key, Value: h.Value})
	}
	s.mu.Lock()
	s.n++
	s.mu.Unlock()
	s.cl.Produce(context.Background(), rec, func(_ *kgo.Record, err error) {
		if err != nil {
			s.mu.Lock()
			if s.err == nil {
				s.err = err
			}
			s.mu.Unlock()
		}
	})
	return nil
}

// flush waits for every record sent so far and returns how many were sent.
func (s *producerSink) flush(t testing.TB) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := s.cl.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		t.Fatalf("produce: %v", s.err)
	}
	return s.n
}

// createChangelog creates the changelog topic of spec with its configs.
func createChangelog(c *kafkatest.Cluster, topic string, partitions int32, spec state.Spec) {
	cfg := map[string]*string{}
	for k, v := range TopicConfigs(spec) {
		cfg[k] = &v
	}
	c.CreateTopic(topic, partitions, cfg)
}

// recordingListener records the calls of a RestoreListener.
type recordingListener struct {
	mu      sync.Mutex
	starts  []string
	batches int
	batched int64
	lastEnd int64
	ends    []int64
}

func (l *recordingListener) OnRestoreStart(store string, tp TopicPartition, start, end int64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.starts = append(l.starts, fmt.Sprintf("%s %s %d-%d", store, tp, start, end))
}

func (l *recordingListener) OnBatchRestored(store string, tp TopicPartition, batchEndOffset int64, n int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.batches++
	l.batched += int64(n)
	l.lastEnd = batchEndOffset
}

func (l *recordingListener) OnRestoreEnd(store string, tp TopicPartition, total int64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.ends = append(l.ends, total)
}

func newRestorer(t testing.TB, c *kafkatest.Cluster, cfg RestorerConfig) *Restorer {
	t.Helper()
	cfg.ClientOpts = append([]kgo.Opt{kgo.SeedBrokers(c.Brokers...)}, cfg.ClientOpts...)
	if cfg.Logger == nil {
		cfg.Logger = quietLogger()
	}
	r, err := NewRestorer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(r.Close)
	return r
}

func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// contents reads a key-value store completely.
func contents(t testing.TB, s state.KeyValueStore) map[string]string {
	t.Helper()
	it, err := s.All()
	if err != nil {
		t.Fatal(err)
	}
	defer it.Close()
	m := map[string]string{}
	var prev []byte
	for it.Next() {
		if prev != nil && bytes.Compare(prev, it.Key()) >= 0 {
			t.Fatalf("keys out of order: %q then %q", prev, it.Key())
		}
		prev = append(prev[:0], it.Key()...)
		m[string(it.Key())] = string(it.Value())
	}
	if err := it.Err(); err != nil {
		t.Fatal(err)
	}
	return m
}

func compareContents(t testing.TB, got, want map[string]string) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("store has %d keys, want %d", len(got), len(want))
	}
	bad := 0
	for k, v := range want {
		if g, ok := got[k]; !ok || g != v {
			if bad++; bad <= 5 {
				t.Errorf("key %q = %q (present %v), want %q", k, g, ok, v)
			}
		}
	}
	for k := range got {
		if _, ok := want[k]; !ok {
			if bad++; bad <= 5 {
				t.Errorf("unexpected key %q", k)
			}
		}
	}
	if bad > 5 {
		t.Errorf("... %d differences in all", bad)
	}
}

func ctxT(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}
