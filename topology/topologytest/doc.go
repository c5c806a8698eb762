// Package topologytest runs a topology with no broker, synchronously and
// deterministically, for tests: pipe typed records into input topics, read
// typed records from output topics, read state stores, and move the wall
// clock to fire punctuators.
//
// It runs the same code the runtime runs — the same topology.Task, the same
// processors, serdes and stores — with one task (partition 0) per
// sub-topology. Records written to repartition topics, and to any topic the
// topology also reads, are fed back into the task that reads them before
// the Pipe call returns.
//
// It may import topology, state, serde and internal/kafkatime; it must not
// import runtime or any Kafka client: it runs with no broker.
package topologytest
