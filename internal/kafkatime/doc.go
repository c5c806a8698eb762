// Package kafkatime converts between the time.Time of Kafki's API and the
// epoch milliseconds Kafka carries on the wire, where -1 means "no
// timestamp" and stands for the zero time.Time. The topology, its test
// driver and the typed stores convert the same way through it.
//
// This package imports only the standard library.
package kafkatime
