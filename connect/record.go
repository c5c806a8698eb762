package connect

import (
	"time"

	"github.com/kafki/kafki/serde"
)

// Record is what source and sink records share, as Kafka Connect's
// ConnectRecord: the topic, an optional partition, key and value with
// their schemas, a timestamp and headers. Transformations work on it.
type Record struct {
	Topic       string
	Partition   int32 // -1: let the producer's partitioner choose
	KeySchema   *Schema
	Key         any
	ValueSchema *Schema
	Value       any
	Timestamp   time.Time // zero: the producer sets it
	Headers     []serde.Header
}

// SourceRecord is a record a source task read from its system. The source
// partition names the stream it came from (a table, a file, a replication
// slot) and the source offset the position after it in that stream; both
// are maps of JSON-compatible values, stored by the worker once the record
// is in Kafka and handed back to the task on restart.
type SourceRecord struct {
	Record
	SourcePartition map[string]any
	SourceOffset    map[string]any
}

// SinkRecord is a record read from Kafka for a sink task, with its Kafka
// coordinates.
type SinkRecord struct {
	Record
	KafkaOffset int64
	// Original holds the raw key, value and headers as read, for the
	// dead-letter queue.
	OriginalKey, OriginalValue []byte
}

// TopicPartition names one partition of a topic.
type TopicPartition struct {
	Topic     string
	Partition int32
}
