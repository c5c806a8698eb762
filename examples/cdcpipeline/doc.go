// Command cdcpipeline runs a whole pipeline from one program: a
// PostgreSQL orders table is captured by the CDC source connector
// (Debezium's format), a Kafki topology joins the orders with the
// customers table and sums revenue per customer, and the PostgreSQL sink
// connector upserts the totals into a table of the same database.
//
// With no --pg-url it starts its own PostgreSQL (Debian's postgresql
// package) in a temporary directory; with no --brokers an embedded
// broker. See README.md.
package main
