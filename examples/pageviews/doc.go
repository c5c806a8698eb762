// Command pageviews counts page views per page in time windows and prints
// only final results: a 1-minute tumbling window and a 5-minute window
// hopping every minute, both suppressed until the window closes, so that
// each (page, window) is printed exactly once, when it can no longer
// change.
//
// With no flags it starts an embedded broker, writes 20 minutes (of event
// time) of generated page views, prints each window's counts as they
// become final and exits once everything is processed. --brokers runs it
// on a real cluster.
//
//	go run ./examples/pageviews
//	go run ./examples/pageviews --brokers localhost:9092 --minutes 60
//
// Like every example it uses the public API only (and examples/internal/exrun).
package main
