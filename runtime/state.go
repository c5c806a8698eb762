package runtime

// State is the lifecycle state of an application instance, as in Kafka
// Streams' KafkaStreams.State.
//
//	Created -> Rebalancing <-> Running -> PendingShutdown -> NotRunning
//	                     \          \-> PendingError -> Error
type State int32

const (
	// Created is the state of a new App before Start.
	Created State = iota
	// Rebalancing means at least one stream thread is joining the group,
	// waiting for an assignment or restoring state.
	Rebalancing
	// Running means every stream thread has its tasks and processes.
	Running
	// PendingShutdown means Close was called and the instance is flushing,
	// committing and releasing its state.
	PendingShutdown
	// NotRunning is the state after a clean shutdown.
	NotRunning
	// PendingError means a fatal error happened and the instance is
	// shutting down because of it.
	PendingError
	// Error is the state after a shutdown caused by an error; Err returns
	// the error.
	Error
)

// String returns the Kafka Streams name of the state.
func (s State) String() string {
	switch s {
	case Created:
		return "CREATED"
	case Rebalancing:
		return "REBALANCING"
	case Running:
		return "RUNNING"
	case PendingShutdown:
		return "PENDING_SHUTDOWN"
	case NotRunning:
		return "NOT_RUNNING"
	case PendingError:
		return "PENDING_ERROR"
	case Error:
		return "ERROR"
	}
	return "UNKNOWN"
}

// validTransition reports whether the instance may move from s to next.
// The rules mirror Kafka Streams so that listeners see the same sequences.
func (s State) validTransition(next State) bool {
	switch s {
	case Created:
		return next == Rebalancing || next == PendingShutdown || next == PendingError
	case Rebalancing:
		return next == Running || next == Rebalancing || next == PendingShutdown || next == PendingError
	case Running:
		return next == Rebalancing || next == PendingShutdown || next == PendingError
	case PendingShutdown:
		return next == NotRunning
	case PendingError:
		return next == Error
	}
	return false
}

// StateListener is told about every state change of an instance. It runs on
// the goroutine that changed the state and must return quickly.
type StateListener func(newState, oldState State)
