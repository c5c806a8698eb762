package connect

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// readTopic calls fn, in offset order per partition, for every committed
// record of topic below the partitions' last stable offsets at the time
// of the call.
//
// It fetches directly rather than through a consumer: a consumer steps
// over aborted records, transaction markers and batches emptied by
// compaction without saying where it is, so it cannot tell a reader that
// has reached the end from one that is only slow. A raw fetch returns the
// offset after everything it covered, whatever was visible.
func readTopic(ctx context.Context, cl *kgo.Client, topic string, fn func(*kgo.Record)) error {
	adm := kadm.NewClient(cl)
	// Read-committed end offsets: the last stable offset. A transaction
	// still open there (its writer died) is aborted or committed later;
	// either way nothing below it waits for it.
	ends, err := adm.ListCommittedOffsets(ctx, topic)
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		return fmt.Errorf("end offsets: %w", err)
	}
	starts, err := adm.ListStartOffsets(ctx, topic)
	if err == nil {
		err = starts.Error()
	}
	if err != nil {
		return fmt.Errorf("start offsets: %w", err)
	}
	var perr error
	ends.Each(func(end kadm.ListedOffset) {
		if perr != nil {
			return
		}
		start, _ := starts.Lookup(topic, end.Partition)
		if end.Offset > start.Offset {
			perr = readPartition(ctx, cl, adm, topic, end.Partition, start.Offset, end.Offset, fn)
		}
	})
	return perr
}

// readPartition fetches [pos, end) of one partition from its leader.
func readPartition(ctx context.Context, cl *kgo.Client, adm *kadm.Client, topic string, part int32, pos, end int64, fn func(*kgo.Record)) error {
	backoff := 50 * time.Millisecond
	retry := func(cause error) error {
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s[%d] at %d of %d: %w (last error: %v)", topic, part, pos, end, ctx.Err(), cause)
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, time.Second)
		return nil
	}
	for pos < end {
		meta, err := adm.Metadata(ctx, topic)
		if err != nil {
			if rerr := retry(err); rerr != nil {
				return rerr
			}
			continue
		}
		td := meta.Topics[topic]
		pd, ok := td.Partitions[part]
		if td.Err != nil || !ok || pd.Err != nil || pd.Leader < 0 {
			if rerr := retry(fmt.Errorf("no leader (topic error %v, partition error %v)", td.Err, pd.Err)); rerr != nil {
				return rerr
			}
			continue
		}
		req := kmsg.NewPtrFetchRequest()
		req.ReplicaID = -1
		req.MaxWaitMillis = 100
		req.MinBytes = 1
		req.MaxBytes = 16 << 20
		req.IsolationLevel = 1
		req.SessionEpoch = -1
		rt := kmsg.NewFetchRequestTopic()
		rt.Topic, rt.TopicID = topic, td.ID
		rp := kmsg.NewFetchRequestTopicPartition()
		rp.Partition = part
		rp.FetchOffset = pos
		rp.PartitionMaxBytes = 8 << 20
		rp.CurrentLeaderEpoch = -1
		rp.LastFetchedEpoch = -1
		rp.LogStartOffset = -1
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
		resp, err := req.RequestWith(ctx, cl.Broker(int(pd.Leader)))
		if err == nil {
			err = kerr.ErrorForCode(resp.ErrorCode)
		}
		if err != nil {
			if rerr := retry(err); rerr != nil {
				return rerr
			}
			continue
		}
		var got *kmsg.FetchResponseTopicPartition
		for i := range resp.Topics {
			for j := range resp.Topics[i].Partitions {
				if p := &resp.Topics[i].Partitions[j]; p.Partition == part {
					got = p
				}
			}
		}
		if got == nil {
			return fmt.Errorf("%s[%d]: fetch response without the partition", topic, part)
		}
		if err := kerr.ErrorForCode(got.ErrorCode); err != nil {
			if errors.Is(err, kerr.OffsetOutOfRange) && got.LogStartOffset > pos {
				// Retention or DeleteRecords moved the start: what
				// was below it is gone for every reader.
				pos = got.LogStartOffset
				continue
			}
			if !kerr.IsRetriable(err) {
				return fmt.Errorf("%s[%d] at %d: %w", topic, part, pos, err)
			}
			if rerr := retry(err); rerr != nil {
				return rerr
			}
			continue
		}
		fp, next := kgo.ProcessFetchPartition(kgo.ProcessFetchPartitionOpts{
			Offset:         pos,
			IsolationLevel: kgo.ReadCommitted(),
			Topic:          topic,
			Partition:      part,
		}, got, kgo.DefaultDecompressor(), nil)
		if fp.Err != nil && len(fp.Records) == 0 {
			return fmt.Errorf("%s[%d] at %d: %w", topic, part, pos, fp.Err)
		}
		for _, r := range fp.Records {
			if r.Offset >= end {
				return nil
			}
			fn(r)
		}
		switch {
		case next > pos:
			pos = next
		case len(got.RecordBatches) == 0 && got.LastStableOffset >= end:
			// Nothing left below the end, visible or not.
			return nil
		default:
			backoff = 50 * time.Millisecond
			if rerr := retry(errors.New("no progress")); rerr != nil {
				return rerr
			}
		}
	}
	return nil
}
