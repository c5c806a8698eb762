// Package exrun holds what the examples share: starting the embedded
// broker, creating topics, waiting until an application has processed
// everything in its input, and reading an output topic back.
//
// It uses only public APIs (franz-go and the kafki packages) so that each
// example stays a faithful picture of a user's program.
//
// It must import only public Kafki packages and franz-go, so that the
// examples stay faithful pictures of users' programs.
package exrun
