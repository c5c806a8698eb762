package postgres_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kafki/kafki/connect"
	"github.com/kafki/kafki/internal/kafkatest"
	"github.com/kafki/kafki/internal/pgtest"
)

type event struct {
	key    any
	value  map[string]any // nil for a tombstone
	offset int64
}

// consume reads topic from offset from until n records arrived.
func consume(t *testing.T, c *kafkatest.Cluster, topic string, from int64, n int) []event {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cl := c.Client(kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {0: kgo.NewOffset().At(from)}}),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	conv := connect.NewJSONConverter(true)
	var out []event
	for len(out) < n {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("%s: %d records of %d: %v", topic, len(out), n, out)
		}
		fs.EachError(func(_ string, _ int32, err error) { t.Logf("fetch: %v", err) })
		fs.EachRecord(func(r *kgo.Record) {
			_, k, err := conv.ToConnectData(topic, nil, r.Key)
			if err != nil {
				t.Fatalf("key %s: %v", r.Key, err)
			}
			_, v, err := conv.ToConnectData(topic, nil, r.Value)
			if err != nil {
				t.Fatalf("value %s: %v", r.Value, err)
			}
			e := event{key: k, offset: r.Offset}
			if v != nil {
				e.value = v.(map[string]any)
			}
			out = append(out, e)
		})
	}
	return out
}

func keyID(e event) int32 { return e.key.(map[string]any)["id"].(int32) }

func op(e event) string {
	if e.value == nil {
		return "tombstone"
	}
	return e.value["op"].(string)
}

// TestCDCSnapshotThenStream: rows present at start arrive as "r" events
// from the snapshot, then inserts, updates and deletes as c/u/d (a delete
// followed by a tombstone), in order per key, in Debezium's envelope,
// keyed by primary key. A restarted worker resumes after the stored
// offset: the next change arrives once and nothing is repeated. It runs
// with offsets in a file, and with exactly-once source support (records
// and offsets in one transaction, offsets in connect-offsets).
func TestCDCSnapshotThenStream(t *testing.T) {
	pg := pgtest.Start(t)
	c := kafkatest.New(t, 1)
	for _, eos := range []bool{false, true} {
		t.Run(fmt.Sprintf("eos=%v", eos), func(t *testing.T) {
			db := fmt.Sprintf("shop%v", eos)
			pg.CreateDB(t, db)
			pg.Exec(t, db,
				`CREATE TABLE customers (id int PRIMARY KEY, name text NOT NULL, balance numeric(10,2), born date, seen timestamp, blob bytea)`,
				`INSERT INTO customers VALUES (1, 'ada', 10.50, '1815-12-10', '2024-01-02 03:04:05.123456', '\x0102'), (2, 'bob', NULL, NULL, NULL, NULL), (3, 'cy', 0, NULL, NULL, NULL)`)
			prefix := c.Topic("srv")
			topic := prefix + ".public.customers"
			worker := workerConfig(c.Brokers, t.TempDir())
			if eos {
				worker["exactly.once.source.support"] = "enabled"
				worker["offset.storage.topic"] = c.Topic("connect-offsets")
			}
			src := cdcConfig("cdc", pg.Port, db, prefix)
			start := func() (stop func()) {
				ctx, cancel := context.WithCancel(context.Background())
				done := make(chan error, 1)
				go func() { done <- connect.Standalone(ctx, worker, []connect.ConnectorConfig{src}, testLog(t)) }()
				return func() {
					cancel()
					if err := <-done; err != nil {
						t.Errorf("worker: %v", err)
					}
				}
			}
			stop := start()
			snap := consume(t, c, topic, 0, 3)
			pg.Exec(t, db,
				`INSERT INTO customers (id, name) VALUES (4, 'dee')`,
				`UPDATE customers SET name = 'ada2' WHERE id = 1`,
				`DELETE FROM customers WHERE id = 2`,
				`BEGIN; UPDATE customers SET balance = 1 WHERE id = 4; UPDATE customers SET balance = 2 WHERE id = 4; COMMIT`)
			all := append(snap, consume(t, c, topic, 3, 6)...)

			perKey := map[int32][]string{}
			for _, e := range all {
				perKey[keyID(e)] = append(perKey[keyID(e)], op(e))
			}
			want := map[int32][]string{1: {"r", "u"}, 2: {"r", "d", "tombstone"}, 3: {"r"}, 4: {"c", "u", "u"}}
			if !reflect.DeepEqual(perKey, want) {
				t.Fatalf("ops per key %v, want %v", perKey, want)
			}
			// The snapshot's rows, its last one marked.
			r1 := all[0].value
			if after := r1["after"].(map[string]any); after["name"] != "ada" || after["balance"] != "10.50" || after["born"] != int32(-56270) ||
				after["seen"] != int64(1704164645123456) || !reflect.DeepEqual(after["blob"], []byte{1, 2}) || r1["before"] != nil {
				t.Fatalf("snapshot row %v", r1)
			}
			if s := all[2].value["source"].(map[string]any); s["snapshot"] != "last" || s["table"] != "customers" || s["db"] != db || s["connector"] != "postgresql" {
				t.Fatalf("last snapshot source %v", s)
			}
			// Streamed changes carry the LSN and transaction id.
			for _, e := range all[3:] {
				if e.value == nil {
					continue
				}
				s := e.value["source"].(map[string]any)
				if s["lsn"] == nil || s["txId"] == nil || s["snapshot"] != "false" || e.value["ts_ms"] == nil {
					t.Fatalf("source block %v", s)
				}
			}
			del := all[5].value
			if op(all[5]) != "d" || del["after"] != nil || del["before"].(map[string]any)["id"] != int32(2) {
				t.Fatalf("delete %v", del)
			}
			if upd := all[4].value; upd["after"].(map[string]any)["name"] != "ada2" {
				t.Fatalf("update %v", upd)
			}
			if a, b := all[7].value["source"].(map[string]any)["txId"], all[8].value["source"].(map[string]any)["txId"]; a != b {
				t.Fatalf("one transaction, two txIds %v %v", a, b)
			}

			// Restart: a change made while the worker was down arrives
			// once, after everything before it, with nothing repeated.
			stop()
			if b, err := os.ReadFile(worker["offset.storage.file.filename"]); err == nil {
				t.Logf("offsets: %s", b)
			}
			pg.Exec(t, db, `INSERT INTO customers (id, name) VALUES (5, 'eve')`)
			stop = start()
			defer stop()
			next := consume(t, c, topic, all[len(all)-1].offset+1, 1)
			if keyID(next[0]) != 5 || op(next[0]) != "c" {
				t.Fatalf("after restart: %v", next[0])
			}
			pg.Exec(t, db, `UPDATE customers SET name = 'eve2' WHERE id = 5`)
			next = consume(t, c, topic, next[0].offset+1, 1)
			if keyID(next[0]) != 5 || op(next[0]) != "u" {
				t.Fatalf("after restart: %v", next[0])
			}
		})
	}
}

type logWriter struct{ t *testing.T }

func (w logWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

func testLog(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(logWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// lineLog is a slog handler's writer that keeps the lines for the test.
type lineLog struct {
	t     *testing.T
	mu    sync.Mutex
	lines []string
}

func (l *lineLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	l.lines = append(l.lines, string(p))
	l.mu.Unlock()
	l.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

func (l *lineLog) has(s string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, ln := range l.lines {
		if strings.Contains(ln, s) {
			return true
		}
	}
	return false
}

// TestCDCWaitsForHeldSlot: when the task restarts while another
// connection still streams from its slot (the walsender of a worker
// that was killed, until PostgreSQL notices), it waits for the slot
// instead of failing, and streams from where it stopped once the slot is
// free.
func TestCDCWaitsForHeldSlot(t *testing.T) {
	pg := pgtest.Start(t)
	pg.CreateDB(t, "held")
	pg.Exec(t, "held", `CREATE TABLE t (id int PRIMARY KEY, v text NOT NULL)`, `INSERT INTO t VALUES (1, 'a')`)
	c := kafkatest.New(t, 1)
	prefix := c.Topic("held")
	topic := prefix + ".public.t"
	worker := workerConfig(c.Brokers, t.TempDir())
	src := cdcConfig("cdc", pg.Port, "held", prefix)
	src.Config["slot.retry.delay.ms"] = "500"
	src.Config["slot.max.retries"] = "120"
	run := func(log *slog.Logger) (stop func()) {
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- connect.Standalone(ctx, worker, []connect.ConnectorConfig{src}, log) }()
		return func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("worker: %v", err)
			}
		}
	}
	stop := run(testLog(t))
	if e := consume(t, c, topic, 0, 1); op(e[0]) != "r" {
		t.Fatalf("snapshot: %v", e)
	}
	pg.Exec(t, "held", `INSERT INTO t VALUES (2, 'b')`)
	if e := consume(t, c, topic, 1, 1); op(e[0]) != "c" || keyID(e[0]) != 2 {
		t.Fatalf("stream: %v", e)
	}
	stop()

	// Another connection takes the slot.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	holder, err := pgconn.Connect(ctx, pg.DSN("held")+"&replication=database")
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Close(context.Background())
	// The stopped worker's walsender may take a moment to exit.
	for {
		err := pglogrepl.StartReplication(ctx, holder, "slot_held", 0, pglogrepl.StartReplicationOptions{
			PluginArgs: []string{"proto_version '1'", "publication_names 'pub_held'"},
		})
		if err == nil {
			break
		}
		if !strings.Contains(err.Error(), "SQLSTATE 55006") || ctx.Err() != nil {
			t.Fatal(err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	pg.Exec(t, "held", `INSERT INTO t VALUES (3, 'c')`)
	lines := &lineLog{t: t}
	stop = run(slog.New(slog.NewTextHandler(lines, &slog.HandlerOptions{Level: slog.LevelInfo})))
	defer stop()
	for !lines.has("replication slot is held by another connection") {
		if ctx.Err() != nil {
			t.Fatal("the task never reported waiting for the held slot")
		}
		time.Sleep(20 * time.Millisecond)
	}
	holder.Close(context.Background())
	e := consume(t, c, topic, 2, 1)
	if op(e[0]) != "c" || keyID(e[0]) != 3 {
		t.Fatalf("after the slot was freed: %v", e)
	}
	if !lines.has("slot released; streaming") {
		t.Fatal("the task streams but never said the slot was released")
	}
}
