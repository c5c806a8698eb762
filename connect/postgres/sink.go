package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/kafki/kafki/connect"
)

// SinkClass is the sink's connector class; the JDBC sink class names of
// Confluent and Debezium are accepted too, with their settings.
const SinkClass = "io.kafki.connect.postgres.PostgresSinkConnector"

func init() {
	connect.RegisterConnector(func() connect.Connector { return &SinkConnector{} },
		SinkClass, "PostgresSink", "io.confluent.connect.jdbc.JdbcSinkConnector", "io.debezium.connector.jdbc.JdbcSinkConnector")
}

// SinkConnector writes records into PostgreSQL tables.
//
// Settings (as Confluent's JDBC sink):
//   - connection.url: postgres://... or jdbc:postgresql://host:port/db;
//     connection.user, connection.password.
//   - table.name.format: the table, ${topic} replaced by the topic
//     (default ${topic}); "a.b" is schema a, table b.
//   - insert.mode: insert (default) or upsert (INSERT ... ON CONFLICT on
//     the primary key DO UPDATE).
//   - pk.mode: none, record_key (the key's fields, or pk.fields[0] for a
//     primitive key) or record_value (pk.fields of the value).
//   - delete.enabled: a record with a null value deletes the row with its
//     key (needs pk.mode=record_key).
//   - auto.create: create a missing table from the record's schemas.
//   - batch.size: records per transaction (default 3000).
//
// Every Put is written in transactions before it returns, so Flush has
// nothing left to do; with upserts a record written twice (after a
// restart) leaves the same row, which makes the table exactly-once per
// key.
type SinkConnector struct{ cfg map[string]string }

// Start implements connect.Connector.
func (c *SinkConnector) Start(cfg map[string]string) error {
	if _, err := parseSinkConfig(cfg); err != nil {
		return err
	}
	c.cfg = cfg
	return nil
}

// TaskConfigs implements connect.Connector: every task gets the same
// configuration; the consumer group splits the partitions.
func (c *SinkConnector) TaskConfigs(max int) ([]map[string]string, error) {
	out := make([]map[string]string, max)
	for i := range out {
		out[i] = c.cfg
	}
	return out, nil
}

// Stop implements connect.Connector.
func (c *SinkConnector) Stop() error { return nil }

// NewTask implements connect.SinkConnector.
func (c *SinkConnector) NewTask() connect.SinkTask { return &SinkTask{} }

type sinkConfig struct {
	url         string
	tableFormat string
	upsert      bool
	pkMode      string
	pkFields    []string
	deletes     bool
	autoCreate  bool
	batch       int
}

// connString turns a JDBC URL into one pgx reads, with the user and
// password settings (connection.user/connection.password, or
// database.user/database.password) in it.
func connString(cfg connect.Config, key string) (string, error) {
	raw, err := cfg.Required(key)
	if err != nil {
		return "", err
	}
	raw = strings.TrimPrefix(raw, "jdbc:")
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		return "", fmt.Errorf("%w: %s: %q is not a postgres:// or jdbc:postgresql:// URL", connect.ErrConfig, key, raw)
	}
	user := cfg.String("connection.user", "")
	pass := cfg.String("connection.password", "")
	if user != "" || pass != "" {
		if user == "" && u.User != nil {
			user = u.User.Username()
		}
		if pass != "" {
			u.User = url.UserPassword(user, pass)
		} else {
			u.User = url.User(user)
		}
	}
	if _, err := pgx.ParseConfig(u.String()); err != nil {
		return "", fmt.Errorf("%w: %s: %v", connect.ErrConfig, key, err)
	}
	return u.String(), nil
}

func parseSinkConfig(m map[string]string) (*sinkConfig, error) {
	cfg := connect.Config(m)
	var sc sinkConfig
	var err error
	if sc.url, err = cfg.Required("connection.url"); err != nil {
		return nil, err
	}
	sc.tableFormat = cfg.String("table.name.format", "${topic}")
	mode, err := cfg.OneOf("insert.mode", "insert", "insert", "upsert")
	if err != nil {
		return nil, err
	}
	sc.upsert = mode == "upsert"
	if sc.pkMode, err = cfg.OneOf("pk.mode", "none", "none", "record_key", "record_value"); err != nil {
		return nil, err
	}
	sc.pkFields = cfg.List("pk.fields")
	if sc.deletes, err = cfg.Bool("delete.enabled", false); err != nil {
		return nil, err
	}
	if sc.deletes && sc.pkMode != "record_key" {
		return nil, fmt.Errorf("%w: delete.enabled needs pk.mode=record_key", connect.ErrConfig)
	}
	if sc.upsert && sc.pkMode == "none" {
		return nil, fmt.Errorf("%w: insert.mode=upsert needs a pk.mode", connect.ErrConfig)
	}
	if sc.pkMode == "record_value" && len(sc.pkFields) == 0 {
		return nil, fmt.Errorf("%w: pk.mode=record_value needs pk.fields", connect.ErrConfig)
	}
	if sc.autoCreate, err = cfg.Bool("auto.create", false); err != nil {
		return nil, err
	}
	if sc.batch, err = cfg.Int("batch.size", 3000); err != nil {
		return nil, err
	}
	if sc.batch < 1 {
		return nil, fmt.Errorf("%w: batch.size must be at least 1", connect.ErrConfig)
	}
	return &sc, nil
}

// SinkTask is the PostgreSQL sink's task.
type SinkTask struct {
	cfg    *sinkConfig
	conn   *pgx.Conn
	tables map[string]bool // tables known to exist
}

// Start implements connect.SinkTask.
func (t *SinkTask) Start(_ connect.SinkTaskContext, m map[string]string) error {
	sc, err := parseSinkConfig(m)
	if err != nil {
		return err
	}
	t.cfg = sc
	dsn, err := connString(connect.Config(m), "connection.url")
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if t.conn, err = pgx.Connect(ctx, dsn); err != nil {
		return fmt.Errorf("postgres sink: connect: %w", err)
	}
	t.tables = map[string]bool{}
	return nil
}

// Put implements connect.SinkTask: the records are committed in batches
// of batch.size when it returns.
func (t *SinkTask) Put(records []connect.SinkRecord) error {
	ctx := context.Background()
	for len(records) > 0 {
		n := min(len(records), t.cfg.batch)
		if err := t.write(ctx, records[:n]); err != nil {
			return err
		}
		records = records[n:]
	}
	return nil
}

func (t *SinkTask) write(ctx context.Context, recs []connect.SinkRecord) error {
	var b pgx.Batch
	for i := range recs {
		r := &recs[i]
		st, args, err := t.statement(ctx, r)
		if err != nil {
			return fmt.Errorf("postgres sink: %s[%d]@%d: %w", r.Topic, r.Partition, r.KafkaOffset, err)
		}
		if st != "" {
			b.Queue(st, args...)
		}
	}
	if b.Len() == 0 {
		return nil
	}
	tx, err := t.conn.Begin(ctx)
	if err != nil {
		return fmt.Errorf("postgres sink: begin: %w", err)
	}
	if err := tx.SendBatch(ctx, &b).Close(); err != nil {
		tx.Rollback(ctx)
		return fmt.Errorf("postgres sink: write batch: %w", err)
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("postgres sink: commit: %w", err)
	}
	return nil
}

// column is one column of a row to write.
type column struct {
	name   string
	schema *connect.Schema
	value  any
}

// row splits a record into key columns and the other columns.
func (t *SinkTask) row(r *connect.SinkRecord) (pk, rest []column, err error) {
	fromStruct := func(s *connect.Schema, v any, what string) ([]column, error) {
		m, ok := v.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("the %s must be a struct or map, got %T", what, v)
		}
		var cols []column
		if s != nil {
			for _, f := range s.Fields {
				cols = append(cols, column{f.Name, f.Schema, m[f.Name]})
			}
		} else {
			for _, k := range sortedKeys(m) {
				cols = append(cols, column{k, connect.InferSchema(m[k]), m[k]})
			}
		}
		return cols, nil
	}
	switch t.cfg.pkMode {
	case "record_key":
		if r.Key == nil {
			return nil, nil, errors.New("pk.mode=record_key but the key is null")
		}
		if ks := r.KeySchema; (ks != nil && ks.Type == connect.Struct) || isMap(r.Key) {
			if pk, err = fromStruct(ks, r.Key, "key"); err != nil {
				return nil, nil, err
			}
			if len(t.cfg.pkFields) > 0 {
				pk = pick(pk, t.cfg.pkFields)
			}
		} else {
			name := "__connect_key"
			if len(t.cfg.pkFields) > 0 {
				name = t.cfg.pkFields[0]
			}
			s := ks
			if s == nil {
				s = connect.InferSchema(r.Key)
			}
			pk = []column{{name, s, r.Key}}
		}
	}
	if r.Value != nil {
		all, err := fromStruct(r.ValueSchema, r.Value, "value")
		if err != nil {
			return nil, nil, err
		}
		if t.cfg.pkMode == "record_value" {
			pk = pick(all, t.cfg.pkFields)
			if len(pk) != len(t.cfg.pkFields) {
				return nil, nil, fmt.Errorf("the value lacks some of pk.fields %v", t.cfg.pkFields)
			}
		}
		inPK := map[string]bool{}
		for _, c := range pk {
			inPK[c.name] = true
		}
		for _, c := range all {
			if !inPK[c.name] {
				rest = append(rest, c)
			}
		}
	}
	return pk, rest, nil
}

func isMap(v any) bool { _, ok := v.(map[string]any); return ok }

func pick(cols []column, names []string) []column {
	var out []column
	for _, n := range names {
		for _, c := range cols {
			if c.name == n {
				out = append(out, c)
			}
		}
	}
	return out
}

// statement returns the SQL and arguments for one record ("" to skip).
func (t *SinkTask) statement(ctx context.Context, r *connect.SinkRecord) (string, []any, error) {
	table := tableName(strings.ReplaceAll(t.cfg.tableFormat, "${topic}", r.Topic))
	if r.Value == nil && !t.cfg.deletes {
		return "", nil, nil // a tombstone without delete.enabled is skipped, as the JDBC sink does
	}
	pk, rest, err := t.row(r)
	if err != nil {
		return "", nil, err
	}
	if !t.tables[table] {
		if err := t.ensureTable(ctx, table, pk, rest, r.Value == nil); err != nil {
			return "", nil, err
		}
	}
	if r.Value == nil {
		var where []string
		args := make([]any, 0, len(pk))
		for i, c := range pk {
			where = append(where, fmt.Sprintf("%s = $%d", ident(c.name), i+1))
			v, err := sqlValue(c.schema, c.value)
			if err != nil {
				return "", nil, fmt.Errorf("key field %s: %w", c.name, err)
			}
			args = append(args, v)
		}
		return "DELETE FROM " + table + " WHERE " + strings.Join(where, " AND "), args, nil
	}
	cols := append(append([]column(nil), pk...), rest...)
	names := make([]string, len(cols))
	params := make([]string, len(cols))
	args := make([]any, len(cols))
	for i, c := range cols {
		names[i] = ident(c.name)
		params[i] = "$" + strconv.Itoa(i+1)
		v, err := sqlValue(c.schema, c.value)
		if err != nil {
			return "", nil, fmt.Errorf("field %s: %w", c.name, err)
		}
		args[i] = v
	}
	q := "INSERT INTO " + table + " (" + strings.Join(names, ", ") + ") VALUES (" + strings.Join(params, ", ") + ")"
	if t.cfg.upsert {
		var keys, sets []string
		for _, c := range pk {
			keys = append(keys, ident(c.name))
		}
		for _, c := range rest {
			sets = append(sets, ident(c.name)+" = EXCLUDED."+ident(c.name))
		}
		q += " ON CONFLICT (" + strings.Join(keys, ", ") + ")"
		if len(sets) == 0 {
			q += " DO NOTHING"
		} else {
			q += " DO UPDATE SET " + strings.Join(sets, ", ")
		}
	}
	return q, args, nil
}

func ident(s string) string { return pgx.Identifier{s}.Sanitize() }

// tableName quotes "schema.table" or "table".
func tableName(s string) string {
	if sch, tbl, ok := strings.Cut(s, "."); ok && !strings.Contains(tbl, ".") {
		return pgx.Identifier{sch, tbl}.Sanitize()
	}
	return pgx.Identifier{s}.Sanitize()
}

func (t *SinkTask) ensureTable(ctx context.Context, table string, pk, rest []column, tombstone bool) error {
	var exists bool
	if err := t.conn.QueryRow(ctx, "SELECT to_regclass($1) IS NOT NULL", table).Scan(&exists); err != nil {
		return fmt.Errorf("look up table %s: %w", table, err)
	}
	if exists {
		t.tables[table] = true
		return nil
	}
	if !t.cfg.autoCreate {
		return fmt.Errorf("table %s does not exist (set auto.create=true to create it from the record schema)", table)
	}
	if tombstone {
		return fmt.Errorf("table %s does not exist and a tombstone has no schema to create it from", table)
	}
	var defs, keys []string
	for i, c := range append(append([]column(nil), pk...), rest...) {
		if c.schema == nil {
			return fmt.Errorf("auto.create: field %s has no schema (use a converter with schemas)", c.name)
		}
		d := ident(c.name) + " " + sqlType(c.schema)
		if i < len(pk) || !c.schema.Optional {
			d += " NOT NULL"
		}
		defs = append(defs, d)
	}
	for _, c := range pk {
		keys = append(keys, ident(c.name))
	}
	if len(keys) > 0 {
		defs = append(defs, "PRIMARY KEY ("+strings.Join(keys, ", ")+")")
	}
	if _, err := t.conn.Exec(ctx, "CREATE TABLE IF NOT EXISTS "+table+" ("+strings.Join(defs, ", ")+")"); err != nil {
		// Sink tasks writing the same new table race to create it, and
		// IF NOT EXISTS does not cover a concurrent creation: the
		// loser fails on the catalog's unique index (pg_type's, 23505),
		// with duplicate_object (42710: its row type) or duplicate_table
		// (42P07). The table is there then.
		var pgErr *pgconn.PgError
		if !errors.As(err, &pgErr) || (pgErr.Code != "23505" && pgErr.Code != "42710" && pgErr.Code != "42P07") {
			return fmt.Errorf("create table %s: %w", table, err)
		}
		if qerr := t.conn.QueryRow(ctx, "SELECT to_regclass($1) IS NOT NULL", table).Scan(&exists); qerr != nil || !exists {
			return fmt.Errorf("create table %s: %w", table, err)
		}
	}
	t.tables[table] = true
	return nil
}

func sqlType(s *connect.Schema) string {
	switch s.Name {
	case connect.DecimalName, connect.DebeziumVariableSc:
		return "NUMERIC"
	case connect.DateName, connect.DebeziumDate:
		return "DATE"
	case connect.TimestampName, connect.DebeziumMicroTS:
		return "TIMESTAMP"
	case connect.DebeziumZonedTS:
		return "TIMESTAMPTZ"
	case connect.DebeziumJSON:
		return "JSONB"
	case connect.DebeziumUUID:
		return "UUID"
	}
	switch s.Type {
	case connect.Int8, connect.Int16:
		return "SMALLINT"
	case connect.Int32:
		return "INTEGER"
	case connect.Int64:
		return "BIGINT"
	case connect.Float32:
		return "REAL"
	case connect.Float64:
		return "DOUBLE PRECISION"
	case connect.Boolean:
		return "BOOLEAN"
	case connect.Bytes:
		return "BYTEA"
	}
	return "TEXT"
}

// sqlValue converts Connect data to what pgx writes for the column.
func sqlValue(s *connect.Schema, v any) (any, error) {
	if v == nil {
		return nil, nil
	}
	if s != nil {
		switch s.Name {
		case connect.DateName, connect.DebeziumDate:
			if d, ok := v.(int32); ok {
				return time.Unix(int64(d)*86400, 0).UTC(), nil
			}
		case connect.TimestampName:
			if ms, ok := v.(int64); ok {
				return time.UnixMilli(ms).UTC(), nil
			}
		case connect.DebeziumMicroTS:
			if us, ok := v.(int64); ok {
				return time.UnixMicro(us).UTC(), nil
			}
		case connect.DecimalName:
			b, ok := v.([]byte)
			if !ok {
				return nil, fmt.Errorf("decimal: %T", v)
			}
			scale, _ := strconv.Atoi(s.Parameters["scale"])
			return decimalString(b, scale), nil
		}
	}
	switch x := v.(type) {
	case map[string]any, []any:
		b, err := json.Marshal(x)
		if err != nil {
			return nil, err
		}
		return string(b), nil
	}
	return v, nil
}

// decimalString renders a Connect Decimal (big-endian two's complement
// unscaled value) as text.
func decimalString(b []byte, scale int) string {
	n := new(big.Int).SetBytes(b)
	if len(b) > 0 && b[0]&0x80 != 0 {
		n.Sub(n, new(big.Int).Lsh(big.NewInt(1), uint(len(b)*8)))
	}
	r := new(big.Rat).SetFrac(n, new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(scale)), nil))
	return r.FloatString(scale)
}

func sortedKeys(m map[string]any) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && out[j] < out[j-1]; j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out
}

// Flush implements connect.SinkTask: Put has committed already.
func (t *SinkTask) Flush(map[connect.TopicPartition]int64) error { return nil }

// Stop implements connect.SinkTask.
func (t *SinkTask) Stop() error {
	if t.conn == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := t.conn.Close(ctx)
	t.conn = nil
	return err
}
