package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/kafki/kafki/connect"
)

// Version is what the source block's "version" field says.
const Version = "kafki-1"

// sourceSchema is the schema of the envelope's "source" block, as
// Debezium's io.debezium.connector.postgresql.Source.
var sourceSchema = &connect.Schema{Type: connect.Struct, Name: "io.debezium.connector.postgresql.Source", Fields: []connect.Field{
	{Name: "version", Schema: connect.StringSchema},
	{Name: "connector", Schema: connect.StringSchema},
	{Name: "name", Schema: connect.StringSchema},
	{Name: "ts_ms", Schema: connect.Int64Schema},
	{Name: "snapshot", Schema: &connect.Schema{Type: connect.String, Optional: true, Name: "io.debezium.data.Enum", Default: "false"}},
	{Name: "db", Schema: connect.StringSchema},
	{Name: "schema", Schema: connect.StringSchema},
	{Name: "table", Schema: connect.StringSchema},
	{Name: "txId", Schema: connect.OptionalInt64Schema},
	{Name: "lsn", Schema: connect.OptionalInt64Schema},
}}

// table is what the source knows about one captured table.
type table struct {
	schema, name string
	cols         []col
	key          []int // indexes of the primary-key columns
	keySchema    *connect.Schema
	rowSchema    *connect.Schema
	envSchema    *connect.Schema
	topic        string
}

type col struct {
	name   string
	oid    uint32
	schema *connect.Schema
}

type catalog struct {
	conn  *pgx.Conn
	cfg   *sourceConfig
	byOID map[uint32]*table
}

// list returns the included tables with their columns, sorted by name.
func (c *catalog) list(ctx context.Context) ([]*table, error) {
	rows, err := c.conn.Query(ctx, `SELECT n.nspname, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%'`)
	if err != nil {
		return nil, fmt.Errorf("postgres source: list tables: %w", err)
	}
	var names [][2]string
	for rows.Next() {
		var s, n string
		if err := rows.Scan(&s, &n); err != nil {
			return nil, err
		}
		if c.cfg.included(s, n) {
			names = append(names, [2]string{s, n})
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("postgres source: list tables: %w", err)
	}
	var out []*table
	for _, n := range names {
		tb, err := c.load(ctx, n[0], n[1], nil)
		if err != nil {
			return nil, err
		}
		out = append(out, tb)
	}
	sortTables(out)
	return out, nil
}

// load reads a table's columns from the catalog. With relCols (from a
// pgoutput Relation message) the column list and order are the
// message's, the catalog adding primary key and nullability.
func (c *catalog) load(ctx context.Context, schema, name string, relCols []col) (*table, error) {
	rows, err := c.conn.Query(ctx, `SELECT a.attname, a.atttypid, a.attnotnull,
			coalesce((SELECT true FROM pg_index i WHERE i.indrelid = a.attrelid AND i.indisprimary AND a.attnum = ANY(i.indkey)), false)
		FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
		WHERE n.nspname = $1 AND c.relname = $2 AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum`, schema, name)
	if err != nil {
		return nil, fmt.Errorf("postgres source: columns of %s.%s: %w", schema, name, err)
	}
	type info struct {
		oid     uint32
		notNull bool
		pk      bool
	}
	byName := map[string]info{}
	var order []col
	for rows.Next() {
		var n string
		var i info
		if err := rows.Scan(&n, &i.oid, &i.notNull, &i.pk); err != nil {
			return nil, err
		}
		byName[n] = i
		order = append(order, col{name: n, oid: i.oid})
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("postgres source: columns of %s.%s: %w", schema, name, err)
	}
	if relCols != nil {
		order = relCols
	}
	tb := &table{schema: schema, name: name, topic: c.cfg.prefix + "." + schema + "." + name}
	base := tb.topic
	tb.rowSchema = &connect.Schema{Type: connect.Struct, Optional: true, Name: base + ".Value"}
	tb.keySchema = &connect.Schema{Type: connect.Struct, Name: base + ".Key"}
	for i, cl := range order {
		in := byName[cl.name]
		// Non-key columns are optional: a delete's "before" carries only
		// the key under the default replica identity.
		cl.schema = columnSchema(cl.oid, !in.pk, c.cfg.decimal)
		tb.cols = append(tb.cols, cl)
		tb.rowSchema.Fields = append(tb.rowSchema.Fields, connect.Field{Name: cl.name, Schema: cl.schema})
		if in.pk {
			tb.key = append(tb.key, i)
			tb.keySchema.Fields = append(tb.keySchema.Fields, connect.Field{Name: cl.name, Schema: cl.schema})
		}
	}
	if len(tb.key) == 0 {
		tb.keySchema = nil
	}
	tb.envSchema = &connect.Schema{Type: connect.Struct, Name: base + ".Envelope", Fields: []connect.Field{
		{Name: "before", Schema: tb.rowSchema},
		{Name: "after", Schema: tb.rowSchema},
		{Name: "source", Schema: sourceSchema},
		{Name: "op", Schema: connect.StringSchema},
		{Name: "ts_ms", Schema: connect.OptionalInt64Schema},
	}}
	return tb, nil
}

// keyOf returns the key struct of a row, nil for a table without one.
func (tb *table) keyOf(row map[string]any) map[string]any {
	if tb.keySchema == nil || row == nil {
		return nil
	}
	k := make(map[string]any, len(tb.key))
	for _, i := range tb.key {
		k[tb.cols[i].name] = row[tb.cols[i].name]
	}
	return k
}

// event builds the change event (and, for a delete, the tombstone that
// follows it so that compaction can drop the key).
func (t *SourceTask) event(tb *table, op string, before, after map[string]any, src map[string]any, offset map[string]any, ts time.Time) []connect.SourceRecord {
	keyRow := after
	if op == "d" {
		keyRow = before
	}
	key := tb.keyOf(keyRow)
	var keyAny any
	if key != nil {
		keyAny = key
	}
	src["version"] = Version
	src["connector"] = "postgresql"
	src["name"] = t.cfg.prefix
	src["db"] = t.cfg.dbname
	src["schema"] = tb.schema
	src["table"] = tb.name
	env := map[string]any{"source": src, "op": op, "ts_ms": time.Now().UnixMilli()}
	if before != nil {
		env["before"] = before
	}
	if after != nil {
		env["after"] = after
	}
	rec := connect.SourceRecord{
		Record: connect.Record{Topic: tb.topic, Partition: -1, KeySchema: tb.keySchema, Key: keyAny,
			ValueSchema: tb.envSchema, Value: env, Timestamp: ts},
		SourcePartition: t.partition, SourceOffset: offset,
	}
	out := []connect.SourceRecord{rec}
	if op == "d" {
		tomb := rec
		tomb.ValueSchema, tomb.Value = nil, nil
		out = append(out, tomb)
	}
	return out
}
