// Command kafki is Kafki's command line: an embedded development broker,
// topic administration, and a console producer and consumer that work with
// any Kafka cluster.
//
// It uses the public API and franz-go only.
package main
