// Package connect is Kafki's connector framework, modelled on Kafka Connect:
// source connectors copy data from an outside system into Kafka topics,
// sink connectors copy records from topics into an outside system.
//
// A [Connector] takes its configuration and splits the work into task
// configurations; the worker runs one [SourceTask] or [SinkTask] per
// configuration. Source tasks return [SourceRecord]s that carry a source
// partition and a source offset; the worker stores the offsets only after
// the records they belong to are acknowledged by Kafka, and tells the task
// through Commit so that it may release resources up to there (a database
// replication slot, for example). Sink tasks receive batches of
// [SinkRecord]s through Put and must have written them durably when Flush
// returns; the worker commits the consumer offsets only after Flush.
//
// Records carry Connect data: a [Schema] and a Go value shaped by it
// (structs are map[string]any). [Converter]s turn that data into bytes and
// back (bytes, string, JSON with or without the schema envelope, Avro
// through a schema registry); [Transformation]s (single message
// transforms) change records one at a time between the task and the
// converter.
//
// [Standalone] runs connectors from configuration files with source
// offsets in a local file, as connect-standalone does.
//
// Built-in connectors live in subpackages (connect/file,
// connect/postgres) and register themselves with [RegisterConnector].
//
// Workers read Kafka's client security settings (security.protocol,
// ssl.*, sasl.*) from the worker configuration, and the Avro converter its
// registry's (basic.auth.user.info, schema.registry.ssl.*), through
// internal/clientconfig, the reader runtime/clientconfig re-exports.
//
// It may import serde (and its registry and Avro packages),
// internal/clientconfig and franz-go; it must not import stream, topology
// or runtime.
package connect
