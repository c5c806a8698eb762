package postgres

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/kafki/kafki/connect"
)

// SourceClass is the CDC source's connector class, Debezium's name.
const SourceClass = "io.debezium.connector.postgresql.PostgresConnector"

func init() {
	connect.RegisterConnector(func() connect.Connector { return &SourceConnector{} }, SourceClass, "PostgresCDC", "PostgresConnector")
}

// ErrSlotMissing means the offsets say streaming had started but the
// replication slot is gone: changes since the stored LSN may be lost.
var ErrSlotMissing = errors.New("replication slot missing")

// SourceConnector captures row changes of PostgreSQL tables as Debezium's
// PostgreSQL connector does: one topic per table,
// <topic.prefix>.<schema>.<table>, keyed by the primary key, values in
// Debezium's envelope (before, after, source, op, ts_ms).
//
// Settings (Debezium's names): database.hostname, database.port,
// database.user, database.password, database.dbname, topic.prefix,
// table.include.list (regular expressions matched against
// schema.table), slot.name (debezium), publication.name
// (dbz_publication), publication.autocreate.mode (all_tables, filtered
// or disabled), snapshot.mode (initial or never), decimal.handling.mode
// (string or double), max.batch.size (2048), poll.interval.ms (500),
// slot.max.retries (6) and slot.retry.delay.ms (10000).
//
// When the slot is in use by another connection (the walsender of a worker
// that died and that PostgreSQL has not yet noticed, at most
// wal_sender_timeout), the task waits for it with backoff, up to
// slot.max.retries × slot.retry.delay.ms in all, and then fails naming
// the process that holds it.
//
// A task that stops before its snapshot's completion is stored (a crash,
// or a task moved to another worker mid-snapshot) takes the snapshot
// again when it restarts, and then replays the slot from where it stood,
// so that rows deleted or changed in between reach the consumers too:
// some changes arrive twice, none is missed.
//
// The database needs wal_level=logical and a user with the REPLICATION
// attribute. One task.
type SourceConnector struct{ cfg map[string]string }

// Start implements connect.Connector.
func (c *SourceConnector) Start(cfg map[string]string) error {
	if _, err := parseSourceConfig(cfg); err != nil {
		return err
	}
	c.cfg = cfg
	return nil
}

// TaskConfigs implements connect.Connector: one task reads the slot.
func (c *SourceConnector) TaskConfigs(int) ([]map[string]string, error) {
	return []map[string]string{c.cfg}, nil
}

// Stop implements connect.Connector.
func (c *SourceConnector) Stop() error { return nil }

// NewTask implements connect.SourceConnector.
func (c *SourceConnector) NewTask() connect.SourceTask { return &SourceTask{} }

type sourceConfig struct {
	dsn         string
	dbname      string
	prefix      string
	include     []*regexp.Regexp
	slot        string
	publication string
	pubMode     string
	snapshot    string
	decimal     string
	batch       int
	pollWait    time.Duration
	slotWait    time.Duration // longest wait for a slot another connection holds
	slotDelay   time.Duration // longest pause between attempts
}

func parseSourceConfig(m map[string]string) (*sourceConfig, error) {
	cfg := connect.Config(m)
	sc := &sourceConfig{}
	var err error
	if sc.dbname, err = cfg.Required("database.dbname"); err != nil {
		return nil, err
	}
	if sc.prefix, err = cfg.Required("topic.prefix"); err != nil {
		return nil, err
	}
	port, err := cfg.Int("database.port", 5432)
	if err != nil {
		return nil, err
	}
	// TimeZone and DateStyle fix the text forms the source parses, on the
	// query and the replication connection alike.
	pc, err := pgx.ParseConfig(fmt.Sprintf("host=%s port=%d dbname=%s user=%s timezone=UTC datestyle=ISO",
		quoteKV(cfg.String("database.hostname", "127.0.0.1")), port, quoteKV(sc.dbname), quoteKV(cfg.String("database.user", "postgres"))))
	if err != nil {
		return nil, fmt.Errorf("%w: database settings: %v", connect.ErrConfig, err)
	}
	sc.dsn = pc.ConnString()
	if p := cfg.String("database.password", ""); p != "" {
		sc.dsn += " password=" + quoteKV(p)
	}
	for _, expr := range cfg.List("table.include.list") {
		re, err := regexp.Compile("^(?:" + expr + ")$")
		if err != nil {
			return nil, fmt.Errorf("%w: table.include.list: %v", connect.ErrConfig, err)
		}
		sc.include = append(sc.include, re)
	}
	sc.slot = cfg.String("slot.name", "debezium")
	sc.publication = cfg.String("publication.name", "dbz_publication")
	if sc.pubMode, err = cfg.OneOf("publication.autocreate.mode", "all_tables", "all_tables", "filtered", "disabled"); err != nil {
		return nil, err
	}
	if sc.snapshot, err = cfg.OneOf("snapshot.mode", "initial", "initial", "never", "no_data"); err != nil {
		return nil, err
	}
	if sc.decimal, err = cfg.OneOf("decimal.handling.mode", "string", "string", "double"); err != nil {
		return nil, err
	}
	if sc.batch, err = cfg.Int("max.batch.size", 2048); err != nil {
		return nil, err
	}
	if sc.pollWait, err = cfg.Millis("poll.interval.ms", 500*time.Millisecond); err != nil {
		return nil, err
	}
	retries, err := cfg.Int("slot.max.retries", 6)
	if err != nil {
		return nil, err
	}
	if sc.slotDelay, err = cfg.Millis("slot.retry.delay.ms", 10*time.Second); err != nil {
		return nil, err
	}
	if retries < 0 || sc.slotDelay <= 0 {
		return nil, fmt.Errorf("%w: slot.max.retries must be at least 0 and slot.retry.delay.ms above 0", connect.ErrConfig)
	}
	sc.slotWait = time.Duration(retries) * sc.slotDelay
	return sc, nil
}

func quoteKV(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s) + "'"
}

func (sc *sourceConfig) included(schema, table string) bool {
	if len(sc.include) == 0 {
		return true
	}
	for _, re := range sc.include {
		if re.MatchString(schema + "." + table) {
			return true
		}
	}
	return false
}

// SourceTask reads the snapshot and then the replication stream.
type SourceTask struct {
	cfg       *sourceConfig
	log       *slog.Logger
	conn      *pgx.Conn
	repl      *pgconn.PgConn
	partition map[string]any
	meta      *catalog

	snap      *snapshot // non-nil while snapshotting
	streaming bool
	slotBusy  slotWait // while another connection holds the slot

	// Deduplication after a restart: events of the transaction committed
	// at skipLSN up to skipEvents were delivered already.
	skipLSN    pglogrepl.LSN
	skipEvents int64

	txn            txnState
	polledComplete pglogrepl.LSN // end of the last transaction whose events Poll has all returned
	confirmed      pglogrepl.LSN // what the slot may forget: offsets stored up to there
	lastStatus     time.Time
}

type txnState struct {
	xid      uint32
	final    pglogrepl.LSN
	commitTS time.Time
	events   int64
	skip     int64 // events of this transaction to skip
}

// Start implements connect.SourceTask: it connects, makes sure the
// publication and slot exist, and decides between a snapshot and
// resuming the stream from the stored offset.
func (t *SourceTask) Start(tc connect.SourceTaskContext, m map[string]string) error {
	sc, err := parseSourceConfig(m)
	if err != nil {
		return err
	}
	t.cfg = sc
	t.log = tc.Logger()
	t.partition = map[string]any{"server": sc.prefix}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if t.conn, err = pgx.Connect(ctx, sc.dsn); err != nil {
		return fmt.Errorf("postgres source: connect: %w", err)
	}
	var level string
	if err := t.conn.QueryRow(ctx, "SHOW wal_level").Scan(&level); err != nil {
		return fmt.Errorf("postgres source: %w", err)
	}
	if level != "logical" {
		return fmt.Errorf("postgres source: wal_level is %s; logical replication needs wal_level=logical", level)
	}
	t.meta = &catalog{conn: t.conn, cfg: sc, byOID: map[uint32]*table{}}
	tables, err := t.meta.list(ctx)
	if err != nil {
		return err
	}
	if err := t.ensurePublication(ctx, tables); err != nil {
		return err
	}
	if t.repl, err = pgconn.Connect(ctx, sc.dsn+" replication=database"); err != nil {
		return fmt.Errorf("postgres source: replication connection: %w", err)
	}
	off, err := tc.OffsetReader().Offset(t.partition)
	if err != nil {
		return err
	}
	slot, err := t.slotState(ctx)
	if err != nil {
		return err
	}
	slotExists := slot.exists
	snapshotDone := off != nil && (off["snapshot"] != true || off["last_snapshot_record"] == true)
	t.log.Info("postgres source starting", "slot", sc.slot, "slot_exists", slot.exists, "slot_active_pid", slot.activePID,
		"slot_confirmed_lsn", slot.confirmed, "stored_offset", off, "snapshot_done", snapshotDone)
	if snapshotDone || (off == nil && sc.snapshot != "initial" && slotExists) {
		if !slotExists {
			return fmt.Errorf("postgres source: %w: slot %q does not exist but offsets were stored (lsn %v): drop the connector's offsets to take a new snapshot", ErrSlotMissing, sc.slot, off["lsn"])
		}
		if l, ok := asInt(off["lsn_commit"]); ok {
			t.skipLSN = pglogrepl.LSN(l)
			t.skipEvents, _ = asInt(off["event"])
		}
		// Poll starts the stream: the slot may still be held by a
		// connection of the task's previous worker, and Poll can wait
		// for it without blocking a stop.
		return nil
	}
	if slotExists && sc.snapshot == "initial" {
		// A snapshot was started, and perhaps partly or wholly delivered,
		// but its completion was never stored (the worker died first).
		// Its exported snapshot died with its transaction, so take a new
		// one and then replay the slot from the position it kept: that
		// replays every change since the first snapshot, deletes of rows
		// it delivered included. Dropping the slot instead would leave
		// such rows in every consumer for good. Replayed changes the new
		// snapshot already holds arrive again (at least once) and leave
		// the same final state.
		t.log.Info("postgres source: no complete snapshot stored; taking a new one and replaying the slot from where it stands",
			"slot", sc.slot, "slot_confirmed_lsn", slot.confirmed)
		from, err := pglogrepl.ParseLSN(slot.confirmed)
		if err != nil {
			return fmt.Errorf("postgres source: slot %q confirmed position %q: %w", sc.slot, slot.confirmed, err)
		}
		t.snap, err = startSnapshot(ctx, t, "", from, tables)
		return err
	}
	// No snapshot at all: start with a fresh slot, so that its exported
	// snapshot and its first change line up.
	t.log.Info("postgres source: no snapshot stored; creating the slot", "slot", sc.slot, "dropping_old_slot", slotExists)
	if slotExists {
		if err := pglogrepl.DropReplicationSlot(ctx, t.repl, sc.slot, pglogrepl.DropReplicationSlotOptions{Wait: true}); err != nil {
			return fmt.Errorf("postgres source: drop old slot %q: %w", sc.slot, err)
		}
	}
	action := "EXPORT_SNAPSHOT"
	if sc.snapshot != "initial" {
		action = "NOEXPORT_SNAPSHOT"
	}
	res, err := pglogrepl.CreateReplicationSlot(ctx, t.repl, sc.slot, "pgoutput", pglogrepl.CreateReplicationSlotOptions{SnapshotAction: action})
	if err != nil {
		return fmt.Errorf("postgres source: create slot %q: %w", sc.slot, err)
	}
	if sc.snapshot != "initial" {
		return nil // Poll starts the stream
	}
	cp, err := pglogrepl.ParseLSN(res.ConsistentPoint)
	if err != nil {
		return fmt.Errorf("postgres source: slot consistent point: %w", err)
	}
	t.snap, err = startSnapshot(ctx, t, res.SnapshotName, cp, tables)
	return err
}

func (t *SourceTask) ensurePublication(ctx context.Context, tables []*table) error {
	var exists bool
	if err := t.conn.QueryRow(ctx, "SELECT count(*) > 0 FROM pg_publication WHERE pubname = $1", t.cfg.publication).Scan(&exists); err != nil {
		return fmt.Errorf("postgres source: %w", err)
	}
	if exists {
		return nil
	}
	var q string
	switch t.cfg.pubMode {
	case "disabled":
		return fmt.Errorf("postgres source: publication %q does not exist and publication.autocreate.mode=disabled", t.cfg.publication)
	case "all_tables":
		q = "CREATE PUBLICATION " + ident(t.cfg.publication) + " FOR ALL TABLES"
	default:
		if len(tables) == 0 {
			return fmt.Errorf("postgres source: no table matches table.include.list: nothing to publish")
		}
		names := make([]string, len(tables))
		for i, tb := range tables {
			names[i] = pgx.Identifier{tb.schema, tb.name}.Sanitize()
		}
		q = "CREATE PUBLICATION " + ident(t.cfg.publication) + " FOR TABLE " + strings.Join(names, ", ")
	}
	if _, err := t.conn.Exec(ctx, q); err != nil {
		return fmt.Errorf("postgres source: create publication: %w", err)
	}
	return nil
}

func (t *SourceTask) startStreaming(ctx context.Context) error {
	err := pglogrepl.StartReplication(ctx, t.repl, t.cfg.slot, 0, pglogrepl.StartReplicationOptions{
		PluginArgs: []string{"proto_version '1'", "publication_names '" + strings.ReplaceAll(t.cfg.publication, "'", "''") + "'"},
	})
	if err != nil {
		return fmt.Errorf("postgres source: start replication on slot %q: %w", t.cfg.slot, err)
	}
	t.streaming = true
	t.lastStatus = time.Now()
	t.log.Info("postgres source streaming", "slot", t.cfg.slot, "skip_lsn", t.skipLSN, "skip_events", t.skipEvents)
	return nil
}

// Poll implements connect.SourceTask.
func (t *SourceTask) Poll(ctx context.Context) ([]connect.SourceRecord, error) {
	if t.snap != nil {
		recs, done, err := t.snap.next(ctx, t.cfg.batch)
		if err != nil {
			return nil, err
		}
		if done {
			t.snap = nil
		}
		return recs, nil
	}
	if !t.streaming {
		if ok, err := t.acquireStream(ctx); !ok || err != nil {
			return nil, err
		}
	}
	return t.stream(ctx)
}

// Commit implements connect.SourceTask: every record returned so far is
// stored, so the slot may forget the transactions they completed.
func (t *SourceTask) Commit() error {
	if !t.streaming || t.polledComplete <= t.confirmed {
		return nil
	}
	t.confirmed = t.polledComplete
	return t.sendStatus()
}

func (t *SourceTask) sendStatus() error {
	t.lastStatus = time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := pglogrepl.SendStandbyStatusUpdate(ctx, t.repl, pglogrepl.StandbyStatusUpdate{WALWritePosition: t.confirmed}); err != nil {
		return fmt.Errorf("postgres source: confirm lsn %s: %w", t.confirmed, err)
	}
	return nil
}

// Stop implements connect.SourceTask.
func (t *SourceTask) Stop() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if t.snap != nil {
		t.snap.close(ctx)
		t.snap = nil
	}
	if t.repl != nil {
		t.repl.Close(ctx)
		t.repl = nil
	}
	if t.conn != nil {
		t.conn.Close(ctx)
		t.conn = nil
	}
	return nil
}

func asInt(v any) (int64, bool) {
	switch x := v.(type) {
	case float64:
		return int64(x), true
	case int64:
		return x, true
	}
	return 0, false
}

func sortTables(ts []*table) {
	sort.Slice(ts, func(i, j int) bool {
		return ts[i].schema+"."+ts[i].name < ts[j].schema+"."+ts[j].name
	})
}

type slotInfo struct {
	exists    bool
	activePID int32 // the walsender using the slot, 0 when none
	confirmed string
}

func (t *SourceTask) slotState(ctx context.Context) (slotInfo, error) {
	var si slotInfo
	var pid *int32
	var confirmed *string
	err := t.conn.QueryRow(ctx, "SELECT active_pid, confirmed_flush_lsn::text FROM pg_replication_slots WHERE slot_name = $1", t.cfg.slot).Scan(&pid, &confirmed)
	if errors.Is(err, pgx.ErrNoRows) {
		return si, nil
	}
	if err != nil {
		return si, fmt.Errorf("postgres source: read slot %q: %w", t.cfg.slot, err)
	}
	si.exists = true
	if pid != nil {
		si.activePID = *pid
	}
	if confirmed != nil {
		si.confirmed = *confirmed
	}
	return si, nil
}

// slotWait tracks the wait for a slot another connection holds.
type slotWait struct {
	since   time.Time // zero when not waiting
	backoff time.Duration
	logged  time.Time
}

// acquireStream starts streaming from the slot. It returns false, and no
// error, when the slot is still active for another connection and the
// task should poll again after the pause it took.
func (t *SourceTask) acquireStream(ctx context.Context) (bool, error) {
	err := t.startStreaming(ctx)
	var pgErr *pgconn.PgError
	if err == nil || !errors.As(err, &pgErr) || pgErr.Code != "55006" { // object_in_use
		if err == nil && !t.slotBusy.since.IsZero() {
			t.log.Info("postgres source: slot released; streaming", "slot", t.cfg.slot, "waited", time.Since(t.slotBusy.since).Round(time.Millisecond))
		}
		t.slotBusy = slotWait{}
		return err == nil, err
	}
	w := &t.slotBusy
	now := time.Now()
	if w.since.IsZero() {
		w.since, w.backoff = now, 100*time.Millisecond
	}
	holder := "another connection"
	if si, serr := t.slotState(ctx); serr == nil && si.activePID != 0 {
		holder = fmt.Sprintf("process %d", si.activePID)
	}
	if now.Sub(w.since) >= t.cfg.slotWait {
		return false, fmt.Errorf("postgres source: replication slot %q is still held by %s after %s (slot.max.retries × slot.retry.delay.ms): %w",
			t.cfg.slot, holder, now.Sub(w.since).Round(time.Second), err)
	}
	if w.logged.IsZero() || now.Sub(w.logged) >= 10*time.Second {
		w.logged = now
		t.log.Info("postgres source: replication slot is held by another connection; waiting", "slot", t.cfg.slot,
			"holder", holder, "waited", now.Sub(w.since).Round(time.Millisecond))
	}
	select {
	case <-ctx.Done():
		return false, ctx.Err()
	case <-time.After(w.backoff):
	}
	w.backoff = min(2*w.backoff, t.cfg.slotDelay)
	return false, nil
}
