package topology

import (
	"time"

	"github.com/kafki/kafki/serde"
)

// Record is a typed record travelling between the processors of one
// sub-topology.
//
// Kafka's null has no natural Go spelling for arbitrary types, so a null key
// or value is carried as the zero value plus a flag: NullKey or NullValue.
// A record with NullValue set is a tombstone; sinks write it as a Kafka
// null. Sources set the flags from the bytes they read; a processor that
// builds a new record leaves them false unless it means to emit a null.
//
// Timestamp is the record's event time. Kafka keeps milliseconds, so a
// finer part is dropped where the record is written (sinks, changelogs,
// repartition topics); timestamps the task makes (sources, punctuators)
// are whole milliseconds in the Local location, as time.UnixMilli makes
// them. A zero Timestamp is written without one, as a Kafka producer
// given none: the broker or client clock stamps it.
type Record[K, V any] struct {
	Key       K
	Value     V
	Timestamp time.Time
	Headers   []serde.Header
	NullKey   bool
	NullValue bool
}

// WithValue returns a copy of r carrying value v (not null). It keeps the key,
// timestamp and headers, which is what most value-only transformations want.
func (r Record[K, V]) WithValue(v V) Record[K, V] {
	r.Value = v
	r.NullValue = false
	return r
}

// RecordMetadata is where the record being processed came from.
type RecordMetadata struct {
	Topic     string
	Partition int32
	Offset    int64
}
