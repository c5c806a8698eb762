// Package changelog makes state stores recoverable: a wrapper logs every
// change to the store's compacted changelog topic, restoration replays a
// changelog partition into a store from the task's checkpointed offset, and
// checkpoint files and the state directory record what is on local disk.
//
// Topic names follow Kafka Streams: <application.id>-<store>-changelog and
// <application.id>-<name>-repartition; TopicConfigs gives a changelog's
// configs (compact; compact,delete with retention for window and session
// stores).
//
// # State directory
//
//	<state.dir>/<application.id>/<task>/.lock         flock(2): one opener per task
//	<state.dir>/<application.id>/<task>/.checkpoint   changelog offsets of the stores
//	<state.dir>/<application.id>/<task>/<store>/      a persistent store
//	<state.dir>/<application.id>/<task>/<store>/.kafki-store   its marker
//
// StateDir.LockTask returns a TaskDir or an error wrapping
// ErrStateDirLocked. OpenStore opens a store in it: a store directory
// without a valid marker, with a marker for another engine, kind or format,
// or that the engine cannot open, is wiped and rebuilt.
//
// # Checkpoints
//
// A checkpoint offset is the NEXT offset to read from the changelog
// partition, as in Kafka Streams: restoration starts there. The file is
// Kafka Streams' text format, written atomically; a file that cannot be
// trusted is treated as missing (restore everything).
//
// # Restoring a task
//
//	td, err := stateDir.LockTask("0_1")               // held until td.Close
//	cp := td.ReadCheckpoint()
//	st, trusted, err := changelog.OpenStore(td, spec, changelog.StoreOptions{Changelog: tp})
//	start := int64(0)
//	if trusted {
//		start = cp[tp]
//	}
//	job := changelog.Job{Store: restorable(st), Partition: tp, Start: start}
//	results, err := restorer.RestoreAll(ctx, []changelog.Job{job})
//	// on an *OffsetOutOfRangeError: ResetStore, then restore from 0
//	st.Flush()
//	td.WriteCheckpoint(changelog.Offsets{tp: results[0].Next})
//	logged := changelog.NewLoggingKeyValueStore(st.(state.KeyValueStore), tp.Topic, tp.Partition, collector, timestamp)
//
// Restoration writes to the engine store, never through the logging
// wrapper. Standby tasks apply changelog records as they arrive with the
// same step (NewRestorable, ApplyRecords).
//
// It may import state and serde, and talks to Kafka through franz-go; it
// must not import topology, stream or runtime.
package changelog
