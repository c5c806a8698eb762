package connect

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// KafkaOffsetStore keeps source offsets in a compacted topic
// (connect-offsets by default), keyed as Kafka Connect keys them: a JSON
// array of the connector name and the source partition, the value the
// JSON offset. Records written inside a source task's transaction (the
// exactly-once mode) are the same records.
type KafkaOffsetStore struct {
	base  []kgo.Opt
	cl    *kgo.Client
	topic string
	mu    sync.Mutex
	data  map[string]json.RawMessage
}

// OpenKafkaOffsetStore creates the topic when missing (compacted, one
// partition unless it exists) and reads it to its end with
// read_committed isolation.
func OpenKafkaOffsetStore(ctx context.Context, base []kgo.Opt, cl *kgo.Client, topic string) (*KafkaOffsetStore, error) {
	if err := ensureTopic(ctx, cl, topic, 1, map[string]*string{"cleanup.policy": kadm.StringPtr("compact")}); err != nil {
		return nil, err
	}
	s := &KafkaOffsetStore{base: base, cl: cl, topic: topic, data: map[string]json.RawMessage{}}
	if err := s.Refresh(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

// Refresh reads the topic again, to see offsets other workers stored
// (before taking over their tasks).
func (s *KafkaOffsetStore) Refresh(ctx context.Context) error {
	data := map[string]json.RawMessage{}
	err := readTopic(ctx, s.base, s.topic, func(r *kgo.Record) {
		if r.Value == nil {
			delete(data, string(r.Key))
		} else {
			data[string(r.Key)] = r.Value
		}
	})
	if err != nil {
		return fmt.Errorf("read offsets topic %s: %w", s.topic, err)
	}
	s.mu.Lock()
	s.data = data
	s.mu.Unlock()
	return nil
}

// Get implements OffsetStore.
func (s *KafkaOffsetStore) Get(connector string, partition map[string]any) (map[string]any, error) {
	k, err := offsetKey(connector, partition)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	raw := s.data[string(k)]
	s.mu.Unlock()
	if raw == nil {
		return nil, nil
	}
	return decodeOffset(raw)
}

// Records returns the records that store entries, for a caller that
// produces them itself (in a transaction); call Applied once they are
// committed.
func (s *KafkaOffsetStore) Records(connector string, entries []OffsetEntry) ([]*kgo.Record, error) {
	out := make([]*kgo.Record, 0, len(entries))
	for _, e := range entries {
		k, err := offsetKey(connector, e.Partition)
		if err != nil {
			return nil, err
		}
		v, err := json.Marshal(e.Offset)
		if err != nil {
			return nil, err
		}
		out = append(out, &kgo.Record{Topic: s.topic, Partition: 0, Key: k, Value: v})
	}
	return out, nil
}

// Applied records offsets written through Records as stored.
func (s *KafkaOffsetStore) Applied(recs []*kgo.Record) {
	s.mu.Lock()
	for _, r := range recs {
		s.data[string(r.Key)] = r.Value
	}
	s.mu.Unlock()
}

// Put implements OffsetStore.
func (s *KafkaOffsetStore) Put(connector string, entries []OffsetEntry) error {
	recs, err := s.Records(connector, entries)
	if err != nil {
		return err
	}
	if err := s.cl.ProduceSync(context.Background(), recs...).FirstErr(); err != nil {
		return fmt.Errorf("write offsets to %s: %w", s.topic, err)
	}
	s.Applied(recs)
	return nil
}

// ensureTopic creates topic when it does not exist.
func ensureTopic(ctx context.Context, cl *kgo.Client, topic string, partitions int32, configs map[string]*string) error {
	adm := kadm.NewClient(cl)
	resp, err := adm.CreateTopic(ctx, partitions, -1, configs, topic)
	if err == nil {
		err = resp.Err
	}
	if err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
		return fmt.Errorf("create topic %s: %w", topic, err)
	}
	return nil
}

// readTopic calls fn for every committed record of topic up to its end
// offsets at the time of the call. franz-go does not expose a consumer's
// position, and transaction markers take offsets without giving records,
// so the read also ends when the partitions have been quiet for a second
// after the last record.
func readTopic(ctx context.Context, base []kgo.Opt, topic string, fn func(*kgo.Record)) error {
	acl, err := kgo.NewClient(base...)
	if err != nil {
		return err
	}
	defer acl.Close()
	adm := kadm.NewClient(acl)
	ends, err := adm.ListEndOffsets(ctx, topic)
	if err != nil {
		return err
	}
	want := map[int32]int64{}
	parts := map[int32]kgo.Offset{}
	ends.Each(func(o kadm.ListedOffset) {
		if o.Offset > 0 {
			want[o.Partition] = o.Offset
			parts[o.Partition] = kgo.NewOffset().AtStart()
		}
	})
	if len(want) == 0 {
		return nil
	}
	rd, err := kgo.NewClient(append(append([]kgo.Opt(nil), base...),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: parts}),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()))...)
	if err != nil {
		return err
	}
	defer rd.Close()
	quiet := 0
	for len(want) > 0 && quiet < 2 {
		pctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
		fs := rd.PollFetches(pctx)
		cancel()
		if ctx.Err() != nil {
			return ctx.Err()
		}
		var ferr error
		fs.EachError(func(_ string, _ int32, err error) {
			if !errors.Is(err, context.DeadlineExceeded) {
				ferr = err
			}
		})
		if ferr != nil {
			return ferr
		}
		if fs.NumRecords() == 0 {
			quiet++
			continue
		}
		quiet = 0
		fs.EachPartition(func(p kgo.FetchTopicPartition) {
			for _, r := range p.Records {
				fn(r)
				if r.Offset+1 >= want[p.Partition] {
					delete(want, p.Partition)
				}
			}
		})
	}
	return nil
}
