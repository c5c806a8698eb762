// Command kafki is Kafki's command line: an embedded development broker,
// topic administration, and a console producer and consumer that work with
// any Kafka cluster.
//
//	kafki broker [--listen 127.0.0.1:9092] [--brokers 1] [--data-dir DIR]
//	kafki topics create NAME [--partitions N] [--replication-factor R] [--config k=v]...
//	kafki topics list
//	kafki topics describe [NAME...]
//	kafki topics delete NAME...
//	kafki produce TOPIC [--key-separator SEP] [--header k=v]... < lines
//	kafki consume TOPIC [--from-beginning] [--group G] [--max-messages N]
//	                    [--partition P --offset O|earliest|latest]
//	                    [--print-key] [--format text|json] [--timeout D]
//
// The client commands take the seed brokers from --brokers, else from the
// KAFKI_BROKERS environment variable, else 127.0.0.1:9092. Errors are one
// line on standard error; the exit status is 1 for a failure and 2 for a
// usage error.
//
// It uses the public API and franz-go only; the engine does not depend on it.
package main
