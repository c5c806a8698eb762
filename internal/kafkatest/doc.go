// Package kafkatest gives integration tests a Kafka cluster: an in-process
// kfake cluster with several brokers by default, or the real cluster named
// by KAFKI_TEST_BROKERS (comma-separated seed brokers) when it is set.
//
// It is for tests only and must not be imported by engine code.
package kafkatest
