// Command wordcount is the Kafka Streams word-count demo on Kafki: it reads
// lines of text, splits them into words, counts each word in a state store
// and writes the running counts to an output topic.
//
// With no flags it starts an embedded broker, writes a built-in text to the
// input topic, processes it, prints the final counts and exits. With
// --brokers it does the same on a real cluster. With --drain it writes
// nothing and only processes what the input topic already holds, until it
// is drained, which makes it a program to time from outside:
//
//	go run ./examples/wordcount
//	go run ./examples/wordcount --brokers localhost:9092 --store memory
//	go run ./examples/wordcount --brokers localhost:9092 --drain --input big-text
//
// Like every example it uses the public API only (and examples/internal/exrun).
package main
