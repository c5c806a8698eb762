package postgres

import (
	"context"
	"fmt"
	"log/slog"
	"reflect"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/kafki/kafki/connect"
	"github.com/kafki/kafki/internal/pgtest"
)

// taskContext is a worker that never stored an offset.
type taskContext struct{ log *slog.Logger }

func (taskContext) OffsetReader() connect.OffsetReader { return noOffsets{} }
func (c taskContext) Logger() *slog.Logger             { return c.log }

type noOffsets struct{}

func (noOffsets) Offset(map[string]any) (map[string]any, error) { return nil, nil }

// applyAll polls task and applies its records to sink the way an
// upserting sink does, until stop says the sink is complete.
func applyAll(t *testing.T, task *SourceTask, sink map[string]string, stop func() bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !stop() {
		if time.Now().After(deadline) {
			t.Fatalf("sink never complete: %v", sink)
		}
		recs, err := task.Poll(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range recs {
			k := fmt.Sprint(r.Key)
			if r.Value == nil {
				delete(sink, k)
				continue
			}
			if after, ok := r.Value.(map[string]any)["after"].(map[string]any); ok {
				sink[k] = after["val"].(string)
			} else {
				delete(sink, k)
			}
		}
	}
}

// TestSnapshotRetakenAfterCrashReplaysDeletes: a worker delivers a whole
// snapshot and dies before the snapshot's completion is stored. Rows are
// deleted and changed before the next worker starts. The next worker's
// new snapshot does not hold the deleted rows, so only a replay of the
// slot from the first snapshot's position deletes them downstream.
func TestSnapshotRetakenAfterCrashReplaysDeletes(t *testing.T) {
	pg := pgtest.Start(t)
	pg.CreateDB(t, "re")
	pg.Exec(t, "re", `CREATE TABLE items (id int PRIMARY KEY, val text NOT NULL)`,
		`INSERT INTO items SELECT g, 'v' || g FROM generate_series(1, 20) g`)
	cfg := map[string]string{
		"database.hostname": "127.0.0.1", "database.port": fmt.Sprint(pg.Port), "database.user": "postgres",
		"database.dbname": "re", "topic.prefix": "re", "slot.name": "slot_re", "publication.name": "pub_re",
		"poll.interval.ms": "100",
	}
	tc := taskContext{log: slog.New(slog.DiscardHandler)}
	sink := map[string]string{}

	first := &SourceTask{}
	if err := first.Start(tc, cfg); err != nil {
		t.Fatal(err)
	}
	applyAll(t, first, sink, func() bool { return first.snap == nil && len(sink) > 0 })
	first.Stop() // dies without its offsets stored: the slot is never confirmed
	if len(sink) != 20 {
		t.Fatalf("first snapshot delivered %d rows, want 20", len(sink))
	}

	pg.Exec(t, "re", `DELETE FROM items WHERE id <= 5`, `UPDATE items SET val = 'changed' WHERE id = 6`,
		`INSERT INTO items VALUES (21, 'v21')`)
	want := sourceRows(t, pg)

	second := &SourceTask{}
	if err := second.Start(tc, cfg); err != nil {
		t.Fatal(err)
	}
	defer second.Stop()
	applyAll(t, second, sink, func() bool { return second.snap == nil && reflect.DeepEqual(sink, want) })
}

func sourceRows(t *testing.T, pg *pgtest.Instance) map[string]string {
	t.Helper()
	ctx := context.Background()
	c, err := pgx.Connect(ctx, pg.DSN("re"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)
	rows, err := c.Query(ctx, "SELECT id, val FROM items")
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	var id int32
	var val string
	if _, err := pgx.ForEachRow(rows, []any{&id, &val}, func() error {
		out[fmt.Sprint(map[string]any{"id": id})] = val
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return out
}
