// Command sessions counts each user's clicks per activity session (a
// session window: clicks less than five minutes apart belong to one
// session) and, once a session can no longer grow, joins its count with
// the users table to report who it was and on which plan.
//
// With no flags it starts an embedded broker, loads the users table,
// writes two hours (of event time) of generated clicks, prints each
// session as it is reported and exits once everything is processed.
// --brokers runs it on a real cluster.
//
//	go run ./examples/sessions
//	go run ./examples/sessions --brokers localhost:9092 --users 50
//
// Like every example it uses the public API only (and examples/internal/exrun).
package main
