// Package stream is Kafki's DSL: a [Builder] turns topics into typed
// KStreams, KTables and GlobalKTables, and operators on them — map, filter,
// grouping, aggregations, windows, joins, suppression — compile into a
// topology.Topology that the runtime or the test driver runs.
//
// Names and semantics follow Kafka Streams. Type-changing operations are
// package functions (stream.Map(s, fn)) because Go methods cannot take type
// parameters; type-preserving ones are methods (s.Filter(fn)).
//
// Operators are configured with Kafka Streams' configuration objects made
// generic — [Consumed], [Produced], [Grouped], [Repartitioned],
// [Materialized], [Joined], [StreamJoined], [TableJoined] — or a [Named]
// for stateless ones, so that a serde of the wrong type, or a
// configuration an operator does not take, does not compile. A serde not
// given comes from the stream while its types do not change, then from
// the builder's default for the Go type ([DefaultSerde]); a missing one is
// reported once by [Builder.Build], naming the first operator that needs
// it.
//
// Nulls: a record's null key or value is a flag (topology.Record.NullKey,
// NullValue). Plain operators pass nulls to their functions as zero
// values; the record-level variants ([KStream.FilterRecord],
// [MapValuesRecord], [MapRecord]) see the flags. NULLS.md tables what
// every operator does with a null key and a null value.
//
// Time: the API speaks time.Time for instants and time.Duration for spans
// — record timestamps, punctuators, stream and wall-clock time, timestamp
// extractors, window definitions, a [Windowed] key's [Window]
// (w.Window.Start(), as Kafka Streams' windowedKey.window().startTime()),
// the typed window and session stores of package state (and so
// topology.WindowStore, topology.SessionStore and topologytest's store
// views), ValueAndTimestamp, and the runtime's window and session views.
// Kafka keeps epoch milliseconds, so finer parts are dropped where a time
// is written, and a zero record time is Kafka's "no timestamp" (-1).
// Milliseconds stay, on purpose, where they are the wire or the engine and
// a conversion per record would cost: topology.RawRecord.Timestamp,
// RecordCollector.Send, Task.StreamTime and RecordTime,
// TaskConfig.ResumeStreamTime, the byte-level state.WindowStore and
// SessionStore and their iterators, state's key and value encodings
// (WindowKey, SessionKey, EncodeTimestamped), and the DSL's internals.
// What Kafki writes is unchanged by the time.Time API: windowed serdes
// encode milliseconds, and a Windowed key's String and JSON print them
// ("[k@60000/120000]", {"Key":"k","Start":60000,"End":120000}).
//
// This package must not import runtime, and must not know about threads or
// Kafka clients: it may import topology, state and serde only.
package stream
