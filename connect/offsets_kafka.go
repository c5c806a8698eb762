package connect

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"

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
	cl    *kgo.Client
	topic string
	mu    sync.Mutex
	data  map[string]json.RawMessage
}

// OpenKafkaOffsetStore creates the topic when missing (compacted, one
// partition unless it exists) and reads it to its end with
// read_committed isolation.
func OpenKafkaOffsetStore(ctx context.Context, cl *kgo.Client, topic string) (*KafkaOffsetStore, error) {
	if err := ensureTopic(ctx, cl, topic, 1, map[string]*string{"cleanup.policy": kadm.StringPtr("compact")}); err != nil {
		return nil, err
	}
	s := &KafkaOffsetStore{cl: cl, topic: topic, data: map[string]json.RawMessage{}}
	if _, err := s.Refresh(ctx); err != nil {
		return nil, err
	}
	return s, nil
}

// Refresh reads the topic again, to see offsets other workers stored
// (before taking over their tasks), and returns how many source
// partitions have an offset.
func (s *KafkaOffsetStore) Refresh(ctx context.Context) (int, error) {
	data := map[string]json.RawMessage{}
	err := readTopic(ctx, s.cl, s.topic, func(r *kgo.Record) {
		if r.Value == nil {
			delete(data, string(r.Key))
		} else {
			data[string(r.Key)] = r.Value
		}
	})
	if err != nil {
		return 0, fmt.Errorf("read offsets topic %s: %w", s.topic, err)
	}
	s.mu.Lock()
	s.data = data
	s.mu.Unlock()
	return len(data), nil
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
