// Command enrich joins streams with tables and with each other: orders
// (a stream) are joined with customers (a table) and with products (a
// global table, looked up by the product id of each order), and the enriched
// orders are joined with payments (a stream)
// that arrive within 10 minutes of their order.
//
// With no flags it starts an embedded broker, loads the customers and
// products, writes an hour of generated orders, then their payments,
// prints the paid orders and exits. --brokers runs it on a real cluster.
//
//	go run ./examples/enrich
//	go run ./examples/enrich --brokers localhost:9092 --orders 1000
//
// Like every example it uses the public API only (and examples/internal/exrun).
package main
