// Command countservice is word count as a service: three instances of one
// Kafki application count words, and each serves GET /count/{word} with
// the word's current count, read from whichever instance holds it
// (interactive queries: runtime.QueryMetadataForKey, a local
// runtime.KeyValueStoreView when the word is here, a runtime.QueryClient
// to the instance that has it otherwise).
//
// With no flags it starts an embedded broker, writes some text, starts the
// three instances with their admin servers on free loopback ports, prints
// their addresses and serves until interrupted:
//
//	go run ./examples/countservice
//	curl http://127.0.0.1:PORT/count/the
//
// Like every example it uses the public API only (and examples/internal/exrun).
package main
