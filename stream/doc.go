// Package stream is Kafki's DSL: a [Builder] turns topics into typed
// KStreams, KTables and GlobalKTables, and operators on them — map, filter,
// grouping, aggregations, windows, joins, suppression — compile into a
// topology.Topology that the runtime or the test driver runs.
//
// Names and semantics follow Kafka Streams. Type-changing operations are
// package functions (stream.Map(s, fn)) because Go methods cannot take type
// parameters; type-preserving ones are methods (s.Filter(fn)).
//
// This package must not import runtime, and must not know about threads or
// Kafka clients: it may import topology, state and serde only.
package stream
