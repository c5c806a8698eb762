// Package changelog makes state stores recoverable: a wrapper logs every
// change to the store's compacted changelog topic, restoration replays a
// changelog partition into a store from the task's checkpointed offset, and
// checkpoint files and the state directory record what is on local disk.
//
// Topic names follow Kafka Streams: <application.id>-<store>-changelog and
// <application.id>-<name>-repartition.
//
// It may import state and serde, and talks to Kafka through franz-go; it
// must not import topology, stream or runtime.
package changelog
