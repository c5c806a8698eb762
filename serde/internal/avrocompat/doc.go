// Package avrocompat explains why one Avro schema cannot read data written
// with another, field by field, for error messages of the Avro serdes and
// the registry server.
//
// It must not import any other Kafki package.
package avrocompat
