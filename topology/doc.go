// Package topology is the processor graph that the DSL compiles into and
// that tasks run: source, processor and sink nodes, the state stores they
// use, and the sub-topologies that repartition topics split the graph into.
//
// It also holds the Processor API — processors with Init, Process and Close,
// a context that forwards records, reaches stores and schedules
// punctuators — for what the DSL cannot say, and Describe, which prints a
// topology in Kafka Streams' layout.
//
// This package must not import stream, runtime or any Kafka client: it may
// import state, serde and internal/kafkatime only.
package topology
