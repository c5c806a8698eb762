// Package postgres holds the PostgreSQL connectors: a change data capture
// source in Debezium's format (initial snapshot from an exported
// snapshot, then pgoutput logical replication), and a sink that upserts
// and deletes by key in batched transactions.
//
// Both use github.com/jackc/pgx/v5, and the source
// github.com/jackc/pglogrepl for the replication protocol.
//
// It may import connect; not stream or runtime.
package postgres
