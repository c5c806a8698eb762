// Command avroorders aggregates Avro records with a schema registry: it
// reads orders written with two versions of their schema, totals them per
// customer in a state store, and writes the totals as Avro to another
// topic — the records on both topics are in the schema registry's wire
// format, readable by any Confluent-compatible consumer.
//
// With no flags it starts an embedded broker and an embedded schema
// registry (whose state lives in the broker's _schemas topic), writes a
// generated batch of orders, processes them, prints the totals and exits.
// --brokers and --registry point it at a real cluster and registry.
//
//	go run ./examples/avroorders
//	go run ./examples/avroorders --brokers localhost:9092 --registry http://localhost:8081
//
// Like every example it uses the public API only (and examples/internal/exrun).
package main
