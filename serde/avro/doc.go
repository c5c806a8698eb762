// Package avro provides Avro serdes in the schema-registry wire format, on
// github.com/hamba/avro/v2.
//
// Every record is framed as Confluent's serializers frame it: a magic byte
// 0, the writer schema's registry id as a 4-byte big-endian integer, then
// the Avro binary encoding.
//
// On Serialize the serde registers its schema (or only looks it up, with
// [AutoRegister](false)) under the subject that the subject-name strategy
// gives for the topic, once per subject, and caches the id. On Deserialize
// it fetches the writer schema by id (cached), and when it differs from the
// serde's own (reader) schema resolves one against the other with Avro's
// schema-resolution rules, so that records written with an older or newer
// schema decode: fields added with defaults are filled in, removed fields
// are skipped, ints widen to longs, and so on.
//
// Go structs use `avro:"name"` field tags; generic values decode into
// map[string]any (records), []any, and Go primitives:
//
//	s, err := avro.New[Order](client, orderSchema)        // structs
//	g, err := avro.New[map[string]any](client, orderSchema) // generic
//
// It may import serde, serde/registry (for its client) and hamba/avro; no
// engine package.
package avro
