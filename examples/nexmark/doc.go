// Package nexmark is the Nexmark benchmark on Kafki: a generator of the
// online-auction events the benchmark defines (persons, auctions, bids, in
// its proportions and with its hot auctions, sellers and bidders) and the
// benchmark's queries as Kafki topologies.
//
// Events travel on one topic as Event values in a compact binary encoding
// (EventSerde), as in the Beam and Flink Nexmark suites where the three
// kinds share one stream. The bench command (cmd/kafki-bench --nexmark)
// runs the queries on a broker; the tests check each query against a
// direct computation on a small generated input.
//
// It must import only public Kafki packages: it is a workload, not part of
// the engine.
package nexmark
