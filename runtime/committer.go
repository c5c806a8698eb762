package runtime

import (
	"context"
	"fmt"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// committer makes a stream thread's work durable. The at-least-once
// committer waits for every produced record (outputs and changelog writes)
// to be acknowledged and then commits the input offsets; an exactly-once
// committer will instead end a transaction that holds records and offsets
// (kgo.GroupTransactSession), behind the same two calls.
type committer interface {
	// flush waits until every record produced so far is acknowledged (or
	// failed).
	flush(ctx context.Context) error
	// commitOffsets commits input offsets: the next offset to read of each
	// partition, all covering records whose outputs were flushed, with the
	// metadata withCommitMetadata put in ctx (the tasks' stream times).
	commitOffsets(ctx context.Context, offsets map[string]map[int32]kgo.EpochOffset) error
}

// alosCommitter is the at-least-once committer.
type alosCommitter struct{ cl *kgo.Client }

func (c alosCommitter) flush(ctx context.Context) error {
	if err := c.cl.Flush(ctx); err != nil {
		return fmt.Errorf("flush producer: %w", err)
	}
	return nil
}

func (c alosCommitter) commitOffsets(ctx context.Context, offsets map[string]map[int32]kgo.EpochOffset) error {
	if len(offsets) == 0 {
		return nil
	}
	var rerr error
	c.cl.CommitOffsetsSync(withMetadataInRequest(ctx, commitMetadataOf(ctx)), offsets, func(_ *kgo.Client, _ *kmsg.OffsetCommitRequest, resp *kmsg.OffsetCommitResponse, err error) {
		if err != nil {
			rerr = err
			return
		}
		for _, t := range resp.Topics {
			for _, p := range t.Partitions {
				if e := kerrOf(p.ErrorCode); e != nil && rerr == nil {
					rerr = fmt.Errorf("%s/%d: %w", t.Topic, p.Partition, e)
				}
			}
		}
	})
	if rerr != nil {
		return fmt.Errorf("commit offsets: %w", rerr)
	}
	return nil
}

func kerrOf(code int16) error { return kerr.ErrorForCode(code) }
