package runtime

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"

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

// isRetriable reports whether err is a broker or network failure that
// clears by itself: a broker that cannot be dialed or dropped the
// connection, a coordinator moving, a request or commit that timed out
// (for example held behind a group join). Kafka Streams retries these
// instead of failing the thread.
func isRetriable(err error) bool {
	if err == nil || errors.Is(err, kgo.ErrClientClosed) || errors.Is(err, ErrNotAuthorized) ||
		errors.Is(err, kerr.TransactionalIDAuthorizationFailed) || errors.Is(err, kerr.TopicAuthorizationFailed) ||
		errors.Is(err, kerr.GroupAuthorizationFailed) || errors.Is(err, kerr.ClusterAuthorizationFailed) {
		// franz-go reports a failed producer id load as retryable, even
		// when an ACL refused it: a missing permission does not heal.
		return false
	}
	// A failed dial: franz-go leaves it to the caller (a typo in a seed
	// address should fail fast), but a broker that was reachable is down
	// or restarting.
	var opErr *net.OpError
	return kgo.IsRetryableBrokerErr(err) || kerr.IsRetriable(err) || errors.As(err, &opErr) ||
		errors.Is(err, context.DeadlineExceeded) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)
}

// errTaskMigrated marks a failure that Kafka Streams calls "task
// migrated": the thread's producer was fenced or lost its epoch or
// sequence (typically across a broker restart), or its transaction could
// not end because the broker was unreachable. The thread's tasks are
// closed dirty and the thread rejoins the group with a new client (and
// producer); the uncaught-error handler is not called.
var errTaskMigrated = errors.New("task migrated")

// migrationCause reports whether a commit or abort that failed with err
// means "task migrated" rather than a failure of the application. A
// transactional offset commit refused because the member left the group
// (its session expired during a broker outage, or it was kicked from a
// rebalance) is one too, as Kafka Streams turns the consumer's
// CommitFailedException into a TaskMigratedException.
func migrationCause(err error) bool {
	return errors.Is(err, kerr.ProducerFenced) || errors.Is(err, kerr.InvalidProducerEpoch) ||
		errors.Is(err, kerr.InvalidProducerIDMapping) || errors.Is(err, kerr.OutOfOrderSequenceNumber) ||
		errors.Is(err, kerr.UnknownProducerID) || isRebalanceErr(err) || isRetriable(err)
}

// taskMigrated wraps err with errTaskMigrated when its cause calls for it.
func taskMigrated(err error) error {
	if err == nil || errors.Is(err, errTaskMigrated) || !migrationCause(err) {
		return err
	}
	return fmt.Errorf("%w: %w", errTaskMigrated, err)
}
