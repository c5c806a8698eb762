// Package serde turns typed Go values into the bytes Kafka stores and back.
//
// A [Serde] is used wherever a record crosses a byte boundary: source and
// sink topics, repartition topics and state stores. Between processors of
// one sub-topology records stay typed Go values and no serde runs.
//
// Built-in serdes cover bytes ([Bytes]), strings ([String]), big-endian
// integers, floats and booleans ([Int16], [Int32], [Int64], [Float32],
// [Float64], [Bool]: the same encodings as Kafka's own serializers) and
// JSON for any Go type ([JSON]). Any type can be plugged in by implementing
// the two-method interface, or from two functions with [Func] (or [Simple]
// when the topic and headers do not matter). Avro with the schema-registry
// wire format lives in the subpackage serde/avro, the registry client and
// an embedded registry server in serde/registry.
//
// The built-ins are allocation-light: fixed-width decoders allocate
// nothing, encoders one slice, and every built-in also implements
// [Appender] to encode into a reused buffer without allocating.
//
// # Errors
//
// Deserializers never panic on bad bytes: they return an *[Error] naming
// the serde, the operation, the topic and the data length, which wraps one
// of the sentinels [ErrInvalidLength], [ErrInvalidData] or
// [ErrUnsupported] (so errors.Is works through any further wrapping, such
// as the engine's partition and offset). Custom serdes can report errors
// the same way with [DeserializeError], [SerializeError] and [Wrap].
//
// This package must not import any other Kafki package.
package serde
