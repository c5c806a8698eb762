package topology

import (
	"log/slog"
	"time"

	"github.com/kafki/kafki/state"
)

// Processor is a node of the processor graph written with the Processor
// API. A new Processor is made for every task (see ProcessorSupplier), so
// its fields are task-local and need no locking.
type Processor[KIn, VIn, KOut, VOut any] interface {
	// Init is called once, before the first record, with the context the
	// processor keeps to forward records, reach stores and schedule
	// punctuators.
	Init(ctx ProcessorContext[KOut, VOut]) error
	// Process handles one record. An error stops the task unless the
	// task's processing-error handler chooses to continue.
	Process(rec Record[KIn, VIn]) error
	// Close releases what Init acquired. Stores are closed by the task.
	Close() error
}

// ProcessorSupplier makes one Processor per task.
type ProcessorSupplier[KIn, VIn, KOut, VOut any] func() Processor[KIn, VIn, KOut, VOut]

// PunctuationType chooses the clock a punctuator follows.
type PunctuationType int

const (
	// StreamTime punctuators fire as the task's stream time (the largest
	// record timestamp seen, as its source's timestamp extractor gave it)
	// passes multiples of the interval; they never fire while no records
	// arrive.
	StreamTime PunctuationType = iota
	// WallClockTime punctuators fire on the system clock, first one
	// interval after they are scheduled.
	WallClockTime
)

// String returns the Kafka Streams name of the punctuation type.
func (p PunctuationType) String() string {
	if p == WallClockTime {
		return "WALL_CLOCK_TIME"
	}
	return "STREAM_TIME"
}

// Punctuator is called with the time (stream time or wall-clock time, in
// whole milliseconds) at which it fires. Records it forwards without a
// timestamp of their own should carry that time, as Kafka Streams'
// punctuation record context does.
type Punctuator func(timestamp time.Time) error

// Cancellable cancels a scheduled punctuator.
type Cancellable interface {
	Cancel()
}

// ProcessorContext is a processor's view of its task. KOut and VOut are the
// types of the records the processor forwards.
type ProcessorContext[KOut, VOut any] interface {
	// Forward sends rec to every child of the processor, synchronously:
	// when Forward returns, the children have processed it.
	Forward(rec Record[KOut, VOut]) error
	// ForwardTo sends rec to the named child only.
	ForwardTo(child string, rec Record[KOut, VOut]) error
	// StateStore returns a store connected to this processor. Callers
	// assert the shape they expect, e.g. store.(state.KeyValueStore).
	StateStore(name string) (state.Store, error)
	// Schedule calls fn every interval on the given clock until cancelled
	// or until the task closes.
	Schedule(interval time.Duration, typ PunctuationType, fn Punctuator) (Cancellable, error)
	// RecordMetadata is the origin of the record being processed; ok is
	// false inside punctuators and cache flushes, which have no input
	// record.
	RecordMetadata() (meta RecordMetadata, ok bool)
	// RecordDropped counts a record the processor chose to drop, under a
	// short reason such as "null-key" or "late", for the task's metrics.
	RecordDropped(reason string)
	TaskID() TaskID
	ApplicationID() string
	// CurrentStreamTime is the largest record timestamp the task has seen
	// (extracted timestamps where a source has an extractor), or the zero
	// time before the first record.
	CurrentStreamTime() time.Time
	// CurrentSystemTime is the task's wall clock, in whole milliseconds as
	// punctuators see it.
	CurrentSystemTime() time.Time
	// Logger is the task's logger, tagged with the task and node.
	Logger() *slog.Logger
}
