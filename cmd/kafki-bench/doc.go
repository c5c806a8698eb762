// Command kafki-bench measures Kafki against one broker and writes the
// results to BENCHMARKS.md.
//
// The parent process starts the broker (an in-process kfake cluster, or
// the cluster named by --brokers), writes the inputs, and runs every
// scenario in a child process of its own (this binary again, with
// --child), so that each scenario's CPU time (getrusage) and peak memory
// (VmHWM) are its own and do not include the broker's.
//
//	go run ./cmd/kafki-bench                      # the default suite
//	go run ./cmd/kafki-bench --records 5000000    # bigger inputs
//	go run ./cmd/kafki-bench --nexmark            # add the Nexmark queries
//	go run ./cmd/kafki-bench --only raw-pipe,wordcount-memory
//
// It uses the public API, franz-go and kfake only; nothing imports it.
package main
