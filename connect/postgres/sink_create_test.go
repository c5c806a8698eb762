package postgres_test

import (
	"sync"
	"testing"

	"github.com/kafki/kafki/connect"
	"github.com/kafki/kafki/connect/postgres"
	"github.com/kafki/kafki/internal/pgtest"
)

// Sink tasks that see the first records of a new table at the same moment
// all try to create it: CREATE TABLE IF NOT EXISTS does not cover a
// concurrent creation, and the losers must find the table made rather
// than fail (the distributed test's three sink tasks met this).
func TestSinkTasksCreateTheSameTableConcurrently(t *testing.T) {
	pg := pgtest.Start(t)
	keySchema := &connect.Schema{Type: connect.Struct, Fields: []connect.Field{{Name: "id", Schema: connect.Int32Schema}}}
	valueSchema := &connect.Schema{Type: connect.Struct, Fields: []connect.Field{
		{Name: "id", Schema: connect.Int32Schema},
		{Name: "val", Schema: connect.StringSchema},
		{Name: "n", Schema: connect.Int64Schema},
	}}
	for round := range 5 {
		db := "race" + string(rune('a'+round))
		pg.CreateDB(t, db)
		const tasks = 6
		var start sync.WaitGroup
		start.Add(1)
		errs := make([]error, tasks)
		var done sync.WaitGroup
		for i := range tasks {
			task := &postgres.SinkTask{}
			err := task.Start(nil, map[string]string{
				"connection.url": "jdbc:" + pg.DSN(db),
				"topics":         "items",
				"insert.mode":    "upsert",
				"pk.mode":        "record_key",
				"auto.create":    "true",
			})
			if err != nil {
				t.Fatalf("start task %d: %v", i, err)
			}
			t.Cleanup(func() { task.Stop() })
			rec := connect.SinkRecord{Record: connect.Record{Topic: "items",
				KeySchema: keySchema, Key: map[string]any{"id": int32(i)},
				ValueSchema: valueSchema, Value: map[string]any{"id": int32(i), "val": "v", "n": int64(i)}}}
			done.Add(1)
			go func() {
				defer done.Done()
				start.Wait()
				errs[i] = task.Put([]connect.SinkRecord{rec})
			}()
		}
		start.Done()
		done.Wait()
		for i, err := range errs {
			if err != nil {
				t.Fatalf("round %d: task %d: %v", round, i, err)
			}
		}
		rows, err := tableRows(t, pg.DSN(db))
		if err != nil {
			t.Fatal(err)
		}
		if len(rows) != tasks {
			t.Fatalf("round %d: %d rows in items, want %d", round, len(rows), tasks)
		}
	}
}
