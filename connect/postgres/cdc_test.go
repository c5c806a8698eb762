package postgres_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

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
