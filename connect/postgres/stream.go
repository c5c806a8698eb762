package postgres

import (
	"context"
	"fmt"
	"reflect"
	"time"

	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/kafki/kafki/connect"
)

// statusEvery is how often the source tells the server where it is even
// when nothing was committed, well inside wal_sender_timeout (60 s).
const statusEvery = 10 * time.Second

// stream reads replication messages for up to poll.interval.ms or until a
// batch is full.
func (t *SourceTask) stream(ctx context.Context) ([]connect.SourceRecord, error) {
	var out []connect.SourceRecord
	deadline := time.Now().Add(t.cfg.pollWait)
	for len(out) < t.cfg.batch {
		if time.Since(t.lastStatus) >= statusEvery {
			if err := t.sendStatus(); err != nil {
				return nil, err
			}
		}
		rctx, cancel := context.WithDeadline(ctx, deadline)
		msg, err := t.repl.ReceiveMessage(rctx)
		cancel()
		if err != nil {
			if ctx.Err() != nil {
				return out, ctx.Err()
			}
			if pgconn.Timeout(err) {
				return out, nil
			}
			return nil, fmt.Errorf("postgres source: replication: %w", err)
		}
		switch m := msg.(type) {
		case *pgproto3.ErrorResponse:
			return nil, fmt.Errorf("postgres source: replication: %s", pgconn.ErrorResponseToPgError(m))
		case *pgproto3.CopyData:
			if len(m.Data) == 0 {
				continue
			}
			switch m.Data[0] {
			case pglogrepl.PrimaryKeepaliveMessageByteID:
				ka, err := pglogrepl.ParsePrimaryKeepaliveMessage(m.Data[1:])
				if err != nil {
					return nil, fmt.Errorf("postgres source: keepalive: %w", err)
				}
				if ka.ReplyRequested {
					if err := t.sendStatus(); err != nil {
						return nil, err
					}
				}
			case pglogrepl.XLogDataByteID:
				xld, err := pglogrepl.ParseXLogData(m.Data[1:])
				if err != nil {
					return nil, fmt.Errorf("postgres source: xlog data: %w", err)
				}
				recs, err := t.decode(ctx, xld)
				if err != nil {
					return nil, err
				}
				out = append(out, recs...)
			}
		}
	}
	return out, nil
}

// decode turns one pgoutput message into change events.
func (t *SourceTask) decode(ctx context.Context, xld pglogrepl.XLogData) ([]connect.SourceRecord, error) {
	msg, err := pglogrepl.Parse(xld.WALData)
	if err != nil {
		return nil, fmt.Errorf("postgres source: pgoutput message at %s: %w", xld.WALStart, err)
	}
	switch m := msg.(type) {
	case *pglogrepl.RelationMessage:
		if !t.cfg.included(m.Namespace, m.RelationName) {
			delete(t.meta.byOID, m.RelationID)
			return nil, nil
		}
		cols := make([]col, len(m.Columns))
		for i, c := range m.Columns {
			cols[i] = col{name: c.Name, oid: c.DataType}
		}
		tb, err := t.meta.load(ctx, m.Namespace, m.RelationName, cols)
		if err != nil {
			return nil, err
		}
		t.meta.byOID[m.RelationID] = tb
	case *pglogrepl.BeginMessage:
		t.txn = txnState{xid: m.Xid, final: m.FinalLSN, commitTS: m.CommitTime}
		switch {
		case m.FinalLSN < t.skipLSN:
			t.txn.skip = -1 // delivered before the restart
		case m.FinalLSN == t.skipLSN:
			t.txn.skip = t.skipEvents
		}
	case *pglogrepl.CommitMessage:
		// The records of this transaction are in the batch Poll is about
		// to return: once they are stored the slot may pass its end.
		t.polledComplete = m.TransactionEndLSN
	case *pglogrepl.InsertMessage:
		return t.change(m.RelationID, "c", nil, m.Tuple, xld.WALStart)
	case *pglogrepl.UpdateMessage:
		return t.change(m.RelationID, "u", m.OldTuple, m.NewTuple, xld.WALStart)
	case *pglogrepl.DeleteMessage:
		return t.change(m.RelationID, "d", m.OldTuple, nil, xld.WALStart)
	}
	return nil, nil
}

func (t *SourceTask) change(rel uint32, op string, old, new *pglogrepl.TupleData, lsn pglogrepl.LSN) ([]connect.SourceRecord, error) {
	tb := t.meta.byOID[rel]
	if tb == nil {
		return nil, nil // not an included table
	}
	t.txn.events++
	if t.txn.skip < 0 || t.txn.events <= t.txn.skip {
		return nil, nil
	}
	before, err := t.tuple(tb, old)
	if err != nil {
		return nil, err
	}
	after, err := t.tuple(tb, new)
	if err != nil {
		return nil, err
	}
	offset := map[string]any{"lsn": int64(lsn), "lsn_commit": int64(t.txn.final), "event": t.txn.events, "txId": int64(t.txn.xid)}
	src := func() map[string]any {
		return map[string]any{"ts_ms": t.txn.commitTS.UnixMilli(), "snapshot": "false", "txId": int64(t.txn.xid), "lsn": int64(lsn)}
	}
	if op == "u" && before != nil && !reflect.DeepEqual(tb.keyOf(before), tb.keyOf(after)) {
		// A key change: the old key is deleted (and tombstoned), the new
		// one created, as Debezium does.
		out := t.event(tb, "d", before, nil, src(), offset, t.txn.commitTS)
		return append(out, t.event(tb, "c", nil, after, src(), offset, t.txn.commitTS)...), nil
	}
	return t.event(tb, op, before, after, src(), offset, t.txn.commitTS), nil
}

// unavailable stands for an unchanged TOASTed value pgoutput does not
// resend, as Debezium's unavailable.value.placeholder.
const unavailable = "__debezium_unavailable_value"

func (t *SourceTask) tuple(tb *table, td *pglogrepl.TupleData) (map[string]any, error) {
	if td == nil {
		return nil, nil
	}
	if len(td.Columns) != len(tb.cols) {
		return nil, fmt.Errorf("postgres source: %s.%s: tuple has %d columns, the relation %d", tb.schema, tb.name, len(td.Columns), len(tb.cols))
	}
	row := make(map[string]any, len(td.Columns))
	for i, c := range td.Columns {
		cl := tb.cols[i]
		switch c.DataType {
		case 'n':
		case 'u':
			if cl.schema.Type == connect.String {
				row[cl.name] = unavailable
			}
		case 't':
			v, err := textValue(cl.oid, cl.schema, string(c.Data))
			if err != nil {
				return nil, fmt.Errorf("postgres source: %s.%s column %s: %w", tb.schema, tb.name, cl.name, err)
			}
			row[cl.name] = v
		default:
			return nil, fmt.Errorf("postgres source: %s.%s column %s: tuple data type %q is not supported", tb.schema, tb.name, cl.name, c.DataType)
		}
	}
	return row, nil
}
