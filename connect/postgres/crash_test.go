package postgres_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/kafki/kafki/connect"
	"github.com/kafki/kafki/internal/kafkatest"
	"github.com/kafki/kafki/internal/pgtest"
)

func sinkConfig(name, dsn, topic string) connect.ConnectorConfig {
	return connect.ConnectorConfig{Name: name, Config: map[string]string{
		"connector.class":                        "io.confluent.connect.jdbc.JdbcSinkConnector",
		"connection.url":                         "jdbc:" + dsn,
		"topics":                                 topic,
		"transforms":                             "unwrap,route",
		"transforms.unwrap.type":                 "io.debezium.transforms.ExtractNewRecordState",
		"transforms.unwrap.delete.handling.mode": "none",
		"transforms.route.type":                  "org.apache.kafka.connect.transforms.RegexRouter",
		"transforms.route.regex":                 `[^.]+\.[^.]+\.([^.]+)`,
		"transforms.route.replacement":           "$1",
		"insert.mode":                            "upsert",
		"pk.mode":                                "record_key",
		"delete.enabled":                         "true",
		"auto.create":                            "true",
	}}
}

type row struct {
	ID  int32
	Val string
	N   int64
}

func tableRows(t *testing.T, dsn string) ([]row, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return nil, err
	}
	defer c.Close(ctx)
	rows, err := c.Query(ctx, "SELECT id, val, n FROM items ORDER BY id")
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowToStructByPos[row])
}

// child starts the test binary as a standalone worker process.
func startChild(t *testing.T, spec childSpec, logPath string) *exec.Cmd {
	t.Helper()
	b, err := json.Marshal(spec)
	if err != nil {
		t.Fatal(err)
	}
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), envChild+"="+string(b))
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return cmd
}

// TestCDCToSinkSurvivesSIGKILL streams 50,000 inserts, updates and
// deletes from a PostgreSQL table through the CDC source, Kafka and the
// PostgreSQL sink into another database, SIGKILLs the worker process in
// the middle and starts it again: afterwards the sink table equals the
// source table, row for row.
func TestCDCToSinkSurvivesSIGKILL(t *testing.T) {
	changes := 50_000
	if s := os.Getenv("KAFKI_CDC_CHANGES"); s != "" {
		changes, _ = strconv.Atoi(s)
	}
	pg := pgtest.Start(t)
	pg.CreateDB(t, "src")
	pg.CreateDB(t, "dst")
	pg.Exec(t, "src", `CREATE TABLE items (id int PRIMARY KEY, val text NOT NULL, n bigint NOT NULL)`,
		`INSERT INTO items SELECT g, 'initial-' || g, g FROM generate_series(1, 1000) g`)
	c := kafkatest.New(t, 1)
	dir := t.TempDir()
	prefix := c.Topic("crash")
	spec := childSpec{
		Worker:     workerConfig(c.Brokers, dir),
		Connectors: []connect.ConnectorConfig{cdcConfig("cdc", pg.Port, "src", prefix), sinkConfig("sink", pg.DSN("dst"), prefix+".public.items")},
	}
	spec.Worker["offset.flush.interval.ms"] = "500"
	logPath := filepath.Join(dir, "worker.log")
	child := startChild(t, spec, logPath)
	t.Cleanup(func() {
		if child != nil {
			child.Process.Kill()
			child.Wait()
		}
		if t.Failed() {
			b, _ := os.ReadFile(logPath)
			t.Logf("worker log:\n%s", b)
		}
	})

	// The writer: transactions of 50 changes, a third of them deletes
	// once the table is big enough.
	var written atomic.Int64
	writeErr := make(chan error, 1)
	go func() {
		writeErr <- func() error {
			ctx := context.Background()
			conn, err := pgx.Connect(ctx, pg.DSN("src"))
			if err != nil {
				return err
			}
			defer conn.Close(ctx)
			rng := rand.New(rand.NewSource(1))
			live := make([]int32, 0, 1000)
			for i := int32(1); i <= 1000; i++ {
				live = append(live, i)
			}
			next := int32(1001)
			for done := 0; done < changes; {
				var b pgx.Batch
				for j := 0; j < 50 && done < changes; j, done = j+1, done+1 {
					switch p := rng.Float64(); {
					case p < 0.4 || len(live) < 100:
						b.Queue("INSERT INTO items VALUES ($1, $2, $3)", next, fmt.Sprintf("v%d", done), int64(done))
						live = append(live, next)
						next++
					case p < 0.8:
						id := live[rng.Intn(len(live))]
						b.Queue("UPDATE items SET val = $2, n = n + 1 WHERE id = $1", id, fmt.Sprintf("u%d", done))
					default:
						k := rng.Intn(len(live))
						b.Queue("DELETE FROM items WHERE id = $1", live[k])
						live[k] = live[len(live)-1]
						live = live[:len(live)-1]
					}
				}
				tx, err := conn.Begin(ctx)
				if err != nil {
					return err
				}
				if err := tx.SendBatch(ctx, &b).Close(); err != nil {
					return err
				}
				if err := tx.Commit(ctx); err != nil {
					return err
				}
				written.Store(int64(done))
			}
			return nil
		}()
	}()

	// Kill the worker once the pipeline is flowing and a good part of the
	// changes are written, then start it again.
	deadline := time.Now().Add(5 * time.Minute)
	for {
		if time.Now().After(deadline) {
			t.Fatal("the pipeline did not start")
		}
		rows, err := tableRows(t, pg.DSN("dst"))
		if err == nil && len(rows) > 0 && written.Load() >= int64(changes)/4 {
			t.Logf("SIGKILL after %d changes written, %d rows in the sink", written.Load(), len(rows))
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	child.Process.Signal(syscall.SIGKILL)
	child.Wait()
	child = startChild(t, spec, logPath)

	if err := <-writeErr; err != nil {
		t.Fatalf("writer: %v", err)
	}
	want, err := tableRows(t, pg.DSN("src"))
	if err != nil {
		t.Fatal(err)
	}
	var got []row
	for {
		got, err = tableRows(t, pg.DSN("dst"))
		if err == nil && reflect.DeepEqual(got, want) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("sink has %d rows, source %d (err %v)", len(got), len(want), err)
		}
		time.Sleep(500 * time.Millisecond)
	}
	t.Logf("sink equals source: %d rows after %d changes", len(got), changes)
}
