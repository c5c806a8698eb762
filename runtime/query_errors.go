package runtime

import (
	"errors"
	"fmt"
)

// Interactive-query errors, Kafka Streams' InvalidStateStoreException
// family. Every error a query returns for a store it cannot read now is a
// *StoreError wrapping one of these; errors.Is works on both.
var (
	// ErrInvalidStateStore is the family: every StoreError matches it.
	ErrInvalidStateStore = errors.New("invalid state store")
	// ErrStreamsNotStarted: Start has not run (StreamsNotStartedException).
	// Retry after starting.
	ErrStreamsNotStarted = errors.New("application not started")
	// ErrUnknownStateStore: the topology has no store of that name, or not
	// of that kind (UnknownStateStoreException). Retrying does not help.
	ErrUnknownStateStore = errors.New("unknown state store")
	// ErrStoreRestoring: the partition is assigned here but its store is
	// restoring from its changelog (a rebalance is in progress). Retry.
	ErrStoreRestoring = errors.New("state store is restoring")
	// ErrStoreMigrated: the partition is not hosted here, or moved away
	// during the query (StateStoreMigratedException). Find the key's
	// instance again (App.QueryMetadataForKey) and retry there.
	ErrStoreMigrated = errors.New("state store migrated to another instance")
	// ErrStoreNotAvailable: the instance is stopping or stopped
	// (StateStoreNotAvailableException). Query another instance.
	ErrStoreNotAvailable = errors.New("state store not available: the instance is not running")
	// ErrInvalidPartition: the partition asked for does not exist
	// (InvalidStateStorePartitionException). Retrying does not help.
	ErrInvalidPartition = errors.New("invalid state store partition")
)

// StoreError is the error of a query that could not read a store.
type StoreError struct {
	Store string
	// Partition is the partition concerned, or -1 for the whole store.
	Partition int32
	// Err is one of the sentinels above.
	Err error
}

func (e *StoreError) Error() string {
	if e.Partition < 0 {
		return fmt.Sprintf("runtime: store %q: %v", e.Store, e.Err)
	}
	return fmt.Sprintf("runtime: store %q partition %d: %v", e.Store, e.Partition, e.Err)
}

// Unwrap returns the sentinel and the family.
func (e *StoreError) Unwrap() []error { return []error{e.Err, ErrInvalidStateStore} }

// Retryable reports whether the same query may succeed later, here or on
// the instance that now hosts the partition.
func (e *StoreError) Retryable() bool {
	return !errors.Is(e.Err, ErrUnknownStateStore) && !errors.Is(e.Err, ErrInvalidPartition)
}

// IsRetryable reports whether err is a StoreError a caller should retry
// (after finding the key's instance again): restoring, migrated, not
// started, not available.
func IsRetryable(err error) bool {
	var se *StoreError
	return errors.As(err, &se) && se.Retryable()
}

func storeErr(store string, p int32, err error) error {
	return &StoreError{Store: store, Partition: p, Err: err}
}
