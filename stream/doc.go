// Package stream is Kafki's DSL: a [Builder] turns topics into typed
// KStreams, KTables and GlobalKTables, and operators on them — map, filter,
// grouping, aggregations, windows, joins, suppression — compile into a
// topology.Topology that the runtime or the test driver runs.
//
// Names and semantics follow Kafka Streams. Type-changing operations are
// package functions (stream.Map(s, fn)) because Go methods cannot take type
// parameters; type-preserving ones are methods (s.Filter(fn)).
//
// Operators are configured with Kafka Streams' configuration objects made
// generic — [Consumed], [Produced], [Grouped], [Repartitioned],
// [Materialized], [Joined], [StreamJoined], [TableJoined] — or a [Named]
// for stateless ones, so that a serde of the wrong type, or a
// configuration an operator does not take, does not compile. A serde not
// given comes from the stream while its types do not change, then from
// the builder's default for the Go type ([DefaultSerde]); a missing one is
// reported once by [Builder.Build], naming the first operator that needs
// it.
//
// Nulls: a record's null key or value is a flag (topology.Record.NullKey,
// NullValue). Plain operators pass nulls to their functions as zero
// values; the record-level variants ([KStream.FilterRecord],
// [MapValuesRecord], [MapRecord]) see the flags. NULLS.md tables what
// every operator does with a null key and a null value.
//
// This package must not import runtime, and must not know about threads or
// Kafka clients: it may import topology, state and serde only.
package stream
