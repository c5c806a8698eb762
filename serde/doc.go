// Package serde turns typed Go values into the bytes Kafka stores and back.
//
// A [Serde] is used wherever a record crosses a byte boundary: source and
// sink topics, repartition topics and state stores. Between processors of
// one sub-topology records stay typed Go values and no serde runs.
//
// Built-in serdes cover bytes, strings, big-endian integers and floats (the
// same encodings as Kafka's own serializers), JSON for any Go type, and Avro
// with the schema-registry wire format. Any type can be plugged in by
// implementing the two-method interface.
//
// This package must not import any other Kafki package.
package serde
