// Package registry speaks the Confluent schema-registry REST API: a caching,
// retrying [Client] built on franz-go's pkg/sr, and an embedded [Server]
// that stores its state in a compacted Kafka topic.
//
// It may import serde and franz-go (the server keeps its state in a Kafka
// topic); no engine package.
package registry
