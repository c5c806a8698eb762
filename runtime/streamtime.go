package runtime

import (
	"context"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"slices"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Stream time across restarts: as Kafka Streams (StreamTask.commit and
// TopicPartitionMetadata), each committed input offset carries in its
// metadata the partition's time (the largest timestamp the task took from
// that partition) and the task's processor metadata (the close times up
// to which emit-on-close aggregations emitted). A task assigned again
// resumes each partition's time, its stream time (the largest of them)
// and its processor metadata, so that a record that was late before a
// restart is still late after it and no final result is emitted twice or
// lost.

// commitMetadataVersion is the version byte Kafka Streams 3.3+ writes:
// base64 of the version, the big-endian partition time, then the
// processor metadata (a big-endian int32 count, then per entry an int32
// key length, the UTF-8 key and an int64 value). Version 1 had the time
// only; Kafki and Kafka Streams read both.
const commitMetadataVersion = 2

// errBadCommitMetadata is the error of metadata that no version of the
// encoding wrote.
var errBadCommitMetadata = errors.New("runtime: commit metadata is not an encoded partition time")

// errBadProcessorMetadata is the error of version-2 metadata whose time
// reads but whose processor metadata does not.
var errBadProcessorMetadata = errors.New("runtime: commit metadata has malformed processor metadata")

// encodeCommitMetadata encodes a partition time and processor metadata
// (keys in sorted order, so that equal metadata encodes equally).
func encodeCommitMetadata(partitionTime int64, meta map[string]int64) string {
	n := 9
	if len(meta) > 0 {
		n += 4
		for k := range meta {
			n += 4 + len(k) + 8
		}
	}
	b := make([]byte, 9, n)
	b[0] = commitMetadataVersion
	binary.BigEndian.PutUint64(b[1:], uint64(partitionTime))
	if len(meta) > 0 {
		b = binary.BigEndian.AppendUint32(b, uint32(len(meta)))
		for _, k := range slices.Sorted(maps.Keys(meta)) {
			b = binary.BigEndian.AppendUint32(b, uint32(len(k)))
			b = append(b, k...)
			b = binary.BigEndian.AppendUint64(b, uint64(meta[k]))
		}
	}
	return base64.StdEncoding.EncodeToString(b)
}

// decodeCommitMetadata reads metadata written by encodeCommitMetadata or
// by Kafka Streams (versions 1 and 2; a later version's time is read, the
// rest ignored). The error wraps errBadCommitMetadata when not even the
// time reads, and errBadProcessorMetadata when only the time does (then
// the time is returned, as Kafka Streams keeps it).
func decodeCommitMetadata(s string) (partitionTime int64, meta map[string]int64, err error) {
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil || len(b) < 9 || b[0] == 0 {
		return 0, nil, fmt.Errorf("%w: %q", errBadCommitMetadata, s)
	}
	partitionTime = int64(binary.BigEndian.Uint64(b[1:9]))
	if b[0] != commitMetadataVersion || len(b) == 9 {
		return partitionTime, nil, nil
	}
	rest := b[9:]
	bad := func() (int64, map[string]int64, error) {
		return partitionTime, nil, fmt.Errorf("%w: %q", errBadProcessorMetadata, s)
	}
	if len(rest) < 4 {
		return bad()
	}
	count := binary.BigEndian.Uint32(rest)
	rest = rest[4:]
	// Each entry takes at least 12 bytes: a count beyond that is corrupt,
	// and must not size an allocation.
	if uint64(count)*12 > uint64(len(rest)) {
		return bad()
	}
	meta = make(map[string]int64, count)
	for range count {
		if len(rest) < 4 {
			return bad()
		}
		kl := binary.BigEndian.Uint32(rest)
		rest = rest[4:]
		if uint64(kl)+8 > uint64(len(rest)) {
			return bad()
		}
		k := string(rest[:kl])
		meta[k] = int64(binary.BigEndian.Uint64(rest[kl:]))
		rest = rest[kl+8:]
	}
	if len(rest) != 0 {
		return bad()
	}
	return partitionTime, meta, nil
}

// commitMetadata returns what q's next offset commit carries, as Kafka
// Streams: the partition's own time and the task's processor metadata
// (with every partition: resuming takes each key's largest value). ok is
// false when there is neither.
func (q *partQueue) commitMetadata(procMeta map[string]int64) (meta string, ok bool) {
	if q.partTime < 0 && len(procMeta) == 0 {
		return "", false
	}
	return encodeCommitMetadata(q.partTime, procMeta), true
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

// committedTimes are what a task resumes from the metadata of its
// partitions' committed offsets.
type committedTimes struct {
	// partition is each input partition's time, by topic (absent: none
	// committed).
	partition map[string]int64
	// stream is the task's stream time: the largest partition time, or 0.
	stream int64
	// meta is the processor metadata, each key's largest value across
	// the partitions (Kafka Streams' ProcessorMetadata.update).
	meta map[string]int64
}

// committedTimes reads the times committed with the offsets of topics'
// partition. Metadata that is not a partition time (another client's
// commit) is ignored, with a warning.
func (th *streamThread) committedTimes(ctx context.Context, topics []string, partition int32) (committedTimes, error) {
	ct := committedTimes{partition: map[string]int64{}}
	resp, err := kadm.NewClient(th.cl).FetchOffsetsForTopics(ctx, th.app.appID, topics...)
	if err != nil {
		return ct, fmt.Errorf("fetch committed offsets: %w", err)
	}
	for _, topic := range topics {
		o, ok := resp.Lookup(topic, partition)
		if !ok || o.Err != nil || o.At < 0 || o.Metadata == "" {
			continue
		}
		t, meta, err := decodeCommitMetadata(o.Metadata)
		if errors.Is(err, errBadCommitMetadata) {
			th.logger.Warn("ignoring committed offset metadata", "topic", topic, "partition", partition, "err", err)
			continue
		}
		if err != nil {
			th.logger.Warn("ignoring committed processor metadata", "topic", topic, "partition", partition, "err", err)
		}
		ct.partition[topic] = t
		ct.stream = max(ct.stream, t)
		for k, v := range meta {
			if ct.meta == nil {
				ct.meta = map[string]int64{}
			}
			if old, ok := ct.meta[k]; !ok || v > old {
				ct.meta[k] = v
			}
		}
	}
	return ct, nil
}
