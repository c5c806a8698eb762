package runtime

import (
	"log/slog"
	"strconv"

	"github.com/kafki/kafki/serde"
	"github.com/kafki/kafki/topology"
)

// HandlerResponse tells the runtime what to do with a record an error
// handler was called for.
type HandlerResponse int

const (
	// Fail stops the stream thread with the error; the uncaught-error
	// handler then decides what happens to the thread and the instance.
	Fail HandlerResponse = iota
	// Continue skips the record, counts it as dropped, and goes on.
	Continue
)

// String returns "FAIL" or "CONTINUE".
func (r HandlerResponse) String() string {
	if r == Continue {
		return "CONTINUE"
	}
	return "FAIL"
}

// HandlerContext is what an error handler knows about where the error
// happened.
type HandlerContext struct {
	// TaskID is the task that hit the error.
	TaskID topology.TaskID
	// ApplicationID is the application's id.
	ApplicationID string
	// Logger is the instance's logger.
	Logger *slog.Logger
	// Topic, Partition and Offset are the input record the task was
	// processing when the error happened (Kafka Streams'
	// ErrorHandlerContext): for a production error, the record whose
	// processing sent the refused one. Topic is "" and Offset -1 when no
	// input record caused it (a punctuator, a cache flush).
	Topic     string
	Partition int32
	Offset    int64
	// Collector sends records with the task's producer, for handlers that
	// forward failed records elsewhere (DeadLetterQueue). Records it sends
	// are acknowledged before the offsets of the failed record commit.
	Collector topology.RecordCollector
}

// DeserializationHandler decides what happens to an input record whose key
// or value cannot be deserialized (Kafka Streams'
// DeserializationExceptionHandler). The built-ins are LogAndFail (the
// default), LogAndContinue and DeadLetterQueue.
type DeserializationHandler func(ctx HandlerContext, rec *topology.RawRecord, err error) HandlerResponse

// ProcessingHandler decides what happens to an input record whose
// processing returned an error other than a deserialization error (Kafka
// Streams' ProcessingExceptionHandler). The default is LogAndFail.
type ProcessingHandler func(ctx HandlerContext, rec *topology.RawRecord, err error) HandlerResponse

// ProductionHandler decides what happens to an output record the broker
// refused (Kafka Streams' ProductionExceptionHandler). rec is the record
// that was sent, with Offset -1; ctx names the input record that caused it.
// Continue drops the record and lets the commit go on; Fail fails the
// commit, so the input records it came from are processed again after the
// thread is replaced. After a Fail the handler is not called for the other
// records that fail in the same commit: they are counted in the error. The
// default is LogAndFail.
type ProductionHandler func(ctx HandlerContext, rec *topology.RawRecord, err error) HandlerResponse

// LogAndFail logs the error and fails the stream thread.
func LogAndFail(ctx HandlerContext, rec *topology.RawRecord, err error) HandlerResponse {
	logger(ctx).Error("record failed; stopping the stream thread", recordAttrs(ctx, rec, err)...)
	return Fail
}

// recordAttrs names the failed record and, for a record that was being
// sent (Offset -1), the input record that caused it.
func recordAttrs(ctx HandlerContext, rec *topology.RawRecord, err error) []any {
	attrs := []any{"task", ctx.TaskID.String(), "topic", rec.Topic, "partition", rec.Partition, "offset", rec.Offset}
	if rec.Offset < 0 && ctx.Topic != "" {
		attrs = append(attrs, "input_topic", ctx.Topic, "input_partition", ctx.Partition, "input_offset", ctx.Offset)
	}
	return append(attrs, "err", err)
}

// LogAndContinue logs the error at warning level and skips the record.
func LogAndContinue(ctx HandlerContext, rec *topology.RawRecord, err error) HandlerResponse {
	logger(ctx).Warn("record failed; skipping it", recordAttrs(ctx, rec, err)...)
	return Continue
}

// Header names DeadLetterQueue adds to the records it forwards; they match
// Kafka Streams' (KIP-1034) dead-letter-queue headers.
const (
	HeaderDLQErrorMessage = "__streams.errors.message"
	HeaderDLQTopic        = "__streams.errors.topic"
	HeaderDLQPartition    = "__streams.errors.partition"
	HeaderDLQOffset       = "__streams.errors.offset"
)

// DeadLetterQueue returns a handler that sends the failed record, key and
// value as read, to topic with its original headers plus headers naming the
// source topic, partition, offset and the error, then skips it. The record
// keeps its key, so it lands on a partition chosen by key. The topic must
// exist. If the send itself fails, the commit fails (at-least-once: the
// record is retried, never lost).
func DeadLetterQueue(topic string) DeserializationHandler {
	return func(ctx HandlerContext, rec *topology.RawRecord, err error) HandlerResponse {
		headers := make([]serde.Header, 0, len(rec.Headers)+4)
		headers = append(headers, rec.Headers...)
		headers = append(headers,
			serde.Header{Key: HeaderDLQErrorMessage, Value: []byte(err.Error())},
			serde.Header{Key: HeaderDLQTopic, Value: []byte(rec.Topic)},
			serde.Header{Key: HeaderDLQPartition, Value: []byte(strconv.FormatInt(int64(rec.Partition), 10))},
			serde.Header{Key: HeaderDLQOffset, Value: []byte(strconv.FormatInt(rec.Offset, 10))},
		)
		if ctx.Collector == nil {
			return Fail
		}
		if serr := ctx.Collector.Send(topic, -1, rec.Key, rec.Value, headers, rec.Timestamp); serr != nil {
			logger(ctx).Error("dead-letter queue send failed", "topic", topic, "err", serr)
			return Fail
		}
		logger(ctx).Warn("record sent to dead-letter queue",
			"dlq", topic, "topic", rec.Topic, "partition", rec.Partition, "offset", rec.Offset, "err", err)
		return Continue
	}
}

func logger(ctx HandlerContext) *slog.Logger {
	if ctx.Logger != nil {
		return ctx.Logger
	}
	return slog.New(slog.DiscardHandler)
}

// UncaughtErrorResponse tells the instance what to do after a stream thread
// stopped with an error (Kafka Streams' StreamThreadExceptionResponse).
type UncaughtErrorResponse int

const (
	// ShutdownClient stops this instance (the default); its tasks move to
	// the other instances.
	ShutdownClient UncaughtErrorResponse = iota
	// ReplaceThread starts a new stream thread in place of the failed one;
	// the new thread rejoins the group and its tasks resume from the last
	// commit.
	ReplaceThread
	// ShutdownApplication stops this instance and asks every other
	// instance of the application to stop too, through the group
	// assignment.
	ShutdownApplication
)

// String returns the Kafka Streams name of the response.
func (r UncaughtErrorResponse) String() string {
	switch r {
	case ReplaceThread:
		return "REPLACE_THREAD"
	case ShutdownApplication:
		return "SHUTDOWN_APPLICATION"
	}
	return "SHUTDOWN_CLIENT"
}

// UncaughtErrorHandler is called when a stream thread stops with an error.
type UncaughtErrorHandler func(err error) UncaughtErrorResponse
