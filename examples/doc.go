// Package examples holds runnable Kafki applications, one per folder. Each
// runs with no flags against an embedded broker and against a real cluster
// with --brokers. They use the public API only.
//
//   - wordcount: the Kafka Streams word-count demo (`make demo`); also a
//     program to time from outside (--drain processes an existing topic).
//   - pageviews: page views per page in tumbling and hopping windows,
//     suppressed until the windows close, printed as final results.
//   - enrich: orders joined with customers and products tables, and with
//     payments within 10 minutes.
//   - sessions: clicks counted per user session (session windows, final
//     results only), joined with a users table.
//   - heartbeat: the Processor API: a processor with a key-value store and
//     a wall-clock punctuator reports devices that go silent.
//   - nexmark: the Nexmark generator and queries, a package that
//     cmd/kafki-bench runs (make bench BENCH_FLAGS=--nexmark).
//
// examples/internal/exrun holds what they share: the embedded broker,
// topic creation, and waiting until an application has drained its input.
package examples
