package postgres

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5"

	"github.com/kafki/kafki/connect"
)

// snapshot reads every included table. On a new slot it reads inside the
// snapshot the slot exported when it was created, so that the rows read
// and the first change streamed afterwards line up exactly: nothing is
// missed and nothing is read twice. Retaking a snapshot on an existing
// slot (name empty) reads the database as it is now; the stream then
// replays from the slot's older position, so nothing is missed and some
// changes arrive twice.
type snapshot struct {
	t      *SourceTask
	lsn    pglogrepl.LSN
	tables []*table
	i      int
	rows   pgx.Rows
	held   *connect.SourceRecord // the newest record, kept back to mark the last one
}

func startSnapshot(ctx context.Context, t *SourceTask, name string, lsn pglogrepl.LSN, tables []*table) (*snapshot, error) {
	if _, err := t.conn.Exec(ctx, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"); err != nil {
		return nil, fmt.Errorf("postgres source: snapshot: %w", err)
	}
	if name == "" {
		return &snapshot{t: t, lsn: lsn, tables: tables}, nil
	}
	if _, err := t.conn.Exec(ctx, "SET TRANSACTION SNAPSHOT '"+strings.ReplaceAll(name, "'", "''")+"'"); err != nil {
		return nil, fmt.Errorf("postgres source: import snapshot %s: %w", name, err)
	}
	return &snapshot{t: t, lsn: lsn, tables: tables}, nil
}

// next returns up to max records; done once every table is read and the
// snapshot transaction is closed.
func (s *snapshot) next(ctx context.Context, max int) (out []connect.SourceRecord, done bool, err error) {
	for len(out) < max {
		if s.rows == nil {
			if s.i == len(s.tables) {
				if _, err := s.t.conn.Exec(ctx, "COMMIT"); err != nil {
					return nil, false, fmt.Errorf("postgres source: end snapshot: %w", err)
				}
				if s.held != nil {
					s.held.SourceOffset["last_snapshot_record"] = true
					s.held.Value.(map[string]any)["source"].(map[string]any)["snapshot"] = "last"
					out = append(out, *s.held)
					s.held = nil
				}
				return out, true, nil
			}
			tb := s.tables[s.i]
			names := make([]string, len(tb.cols))
			for i, c := range tb.cols {
				names[i] = ident(c.name)
			}
			q := "SELECT " + strings.Join(names, ", ") + " FROM " + pgx.Identifier{tb.schema, tb.name}.Sanitize()
			// The simple protocol returns text, the same form pgoutput
			// streams, so both paths convert values alike.
			if s.rows, err = s.t.conn.Query(ctx, q, pgx.QueryExecModeSimpleProtocol); err != nil {
				return nil, false, fmt.Errorf("postgres source: snapshot %s.%s: %w", tb.schema, tb.name, err)
			}
		}
		tb := s.tables[s.i]
		if !s.rows.Next() {
			err := s.rows.Err()
			s.rows.Close()
			s.rows = nil
			if err != nil {
				return nil, false, fmt.Errorf("postgres source: snapshot %s.%s: %w", tb.schema, tb.name, err)
			}
			s.i++
			continue
		}
		raw := s.rows.RawValues()
		row := make(map[string]any, len(raw))
		for i, c := range tb.cols {
			if raw[i] == nil {
				continue
			}
			v, err := textValue(c.oid, c.schema, string(raw[i]))
			if err != nil {
				return nil, false, fmt.Errorf("postgres source: %s.%s column %s: %w", tb.schema, tb.name, c.name, err)
			}
			row[c.name] = v
		}
		now := time.Now()
		src := map[string]any{"ts_ms": now.UnixMilli(), "snapshot": "true", "lsn": int64(s.lsn)}
		offset := map[string]any{"lsn": int64(s.lsn), "snapshot": true, "last_snapshot_record": false}
		rec := s.t.event(tb, "r", nil, row, src, offset, now)[0]
		if s.held != nil {
			out = append(out, *s.held)
		}
		s.held = &rec
	}
	return out, false, nil
}

func (s *snapshot) close(ctx context.Context) {
	if s.rows != nil {
		s.rows.Close()
	}
}
