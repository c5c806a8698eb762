package runtime

import (
	"context"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Stream time across restarts: as Kafka Streams, each committed input
// offset carries the task's stream time in its metadata, and a task
// resumes from it when it is assigned again, so that a record that was
// late before a restart is still late after it.

// streamTimeMagic is the version byte of the metadata: Kafka Streams'
// first encoding (base64 of the version byte and the big-endian stream
// time), which it and Kafki both read.
const streamTimeMagic = 1

// errBadCommitMetadata is the error of metadata that no version of the
// encoding wrote.
var errBadCommitMetadata = errors.New("runtime: commit metadata is not an encoded stream time")

func encodeStreamTime(ts int64) string {
	var b [9]byte
	b[0] = streamTimeMagic
	binary.BigEndian.PutUint64(b[1:], uint64(ts))
	return base64.StdEncoding.EncodeToString(b[:])
}

// decodeStreamTime reads metadata written by encodeStreamTime (or by
// Kafka Streams, whose later versions append more after the time).
func decodeStreamTime(meta string) (int64, error) {
	b, err := base64.StdEncoding.DecodeString(meta)
	if err != nil || len(b) < 9 || b[0] == 0 {
		return 0, fmt.Errorf("%w: %q", errBadCommitMetadata, meta)
	}
	return int64(binary.BigEndian.Uint64(b[1:9])), nil
}

// commitMetadata is the metadata of each partition an offset commit
// covers, by topic and partition.
type commitMetadata map[string]map[int32]string

type commitMetadataKey struct{}

// withCommitMetadata passes the metadata of a commit to the committer.
func withCommitMetadata(ctx context.Context, meta commitMetadata) context.Context {
	return context.WithValue(ctx, commitMetadataKey{}, meta)
}

func commitMetadataOf(ctx context.Context) commitMetadata {
	m, _ := ctx.Value(commitMetadataKey{}).(commitMetadata)
	return m
}

// metadataFor returns the metadata of topic/partition, or nil.
func (m commitMetadata) metadataFor(topic string, partition int32) *string {
	if s, ok := m[topic][partition]; ok {
		return &s
	}
	return nil
}

// withMetadataInRequest has the client's offset commit carry the
// metadata (franz-go commits only its own otherwise).
func withMetadataInRequest(ctx context.Context, meta commitMetadata) context.Context {
	if len(meta) == 0 {
		return ctx
	}
	return kgo.PreCommitFnContext(ctx, func(req *kmsg.OffsetCommitRequest) error {
		for i := range req.Topics {
			t := &req.Topics[i]
			for j := range t.Partitions {
				if s := meta.metadataFor(t.Topic, t.Partitions[j].Partition); s != nil {
					t.Partitions[j].Metadata = s
				}
			}
		}
		return nil
	})
}

// committedStreamTime returns the largest stream time committed with the
// offsets of topics' partition, or 0 when none was. Metadata that is not
// a stream time (another client's commit) is ignored, with a warning.
func (th *streamThread) committedStreamTime(ctx context.Context, topics []string, partition int32) (int64, error) {
	resp, err := kadm.NewClient(th.cl).FetchOffsetsForTopics(ctx, th.app.appID, topics...)
	if err != nil {
		return 0, fmt.Errorf("fetch committed offsets: %w", err)
	}
	var ts int64
	for _, topic := range topics {
		o, ok := resp.Lookup(topic, partition)
		if !ok || o.Err != nil || o.At < 0 || o.Metadata == "" {
			continue
		}
		t, err := decodeStreamTime(o.Metadata)
		if err != nil {
			th.logger.Warn("ignoring committed offset metadata", "topic", topic, "partition", partition, "err", err)
			continue
		}
		ts = max(ts, t)
	}
	return ts, nil
}
