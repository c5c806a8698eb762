package changelog

import (
	"fmt"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kafki/kafki/serde"
	"github.com/kafki/kafki/state"
)

// Restorable applies changelog records to one store. Restoration uses it
// for the records up to the end of the changelog; the runtime uses the same
// step to keep standby tasks up to date as records arrive.
type Restorable interface {
	// Name is the store's name.
	Name() string
	// RestoreBatch applies data records of the store's changelog, in
	// offset order, straight to the store (nothing is logged). A nil value
	// deletes. Control records must not be passed.
	RestoreBatch(records []*kgo.Record) error
}

// NewRestorable returns the Restorable of a key-value, window or session
// store. A logging wrapper is unwrapped first: restoration writes to the
// store underneath so that replayed records are not logged again.
func NewRestorable(store state.Store) (Restorable, error) {
	for {
		l, ok := store.(interface{ Unwrap() state.Store })
		if !ok {
			break
		}
		store = l.Unwrap()
	}
	switch s := store.(type) {
	case Restorable: // a store that knows better
		return s, nil
	case *state.TimeOrderedBuffer:
		return bufferRestorable{s}, nil
	case state.KeyValueStore:
		return &kvRestorable{store: s}, nil
	case state.WindowStore:
		return &windowRestorable{store: s}, nil
	case state.SessionStore:
		return &sessionRestorable{store: s}, nil
	}
	return nil, fmt.Errorf("changelog: store %s of type %T cannot be restored", store.Name(), store)
}

// ApplyRecords applies changelog records to store, skipping control
// records (transaction markers). It is NewRestorable and RestoreBatch in
// one call; keep the Restorable to apply many batches to one store.
func ApplyRecords(store state.Store, records []*kgo.Record) error {
	r, err := NewRestorable(store)
	if err != nil {
		return err
	}
	data := records
	for i, rec := range records {
		if rec.Attrs.IsControl() {
			// Copy out the data records only when there is a marker.
			data = make([]*kgo.Record, 0, len(records))
			data = append(data, records[:i]...)
			for _, rec := range records[i+1:] {
				if !rec.Attrs.IsControl() {
					data = append(data, rec)
				}
			}
			break
		}
	}
	if len(data) == 0 {
		return nil
	}
	return r.RestoreBatch(data)
}

type kvRestorable struct {
	store state.KeyValueStore
	buf   []state.KeyValue
}

func (r *kvRestorable) Name() string { return r.store.Name() }

func (r *kvRestorable) RestoreBatch(records []*kgo.Record) error {
	buf := r.buf[:0]
	for _, rec := range records {
		buf = append(buf, state.KeyValue{Key: rec.Key, Value: rec.Value})
	}
	err := r.store.PutAll(buf)
	clear(buf) // do not pin record memory between batches
	r.buf = buf[:0]
	if err != nil {
		return fmt.Errorf("changelog: restore %s: %w", r.store.Name(), err)
	}
	return nil
}

type windowRestorable struct {
	store state.WindowStore
	buf   []state.WindowKeyValue
}

func (r *windowRestorable) Name() string { return r.store.Name() }

// RestoreBatch writes the records as one batch when the store has a batch
// write (one engine write per time segment), else one at a time.
func (r *windowRestorable) RestoreBatch(records []*kgo.Record) error {
	bw, batched := r.store.(state.WindowBatchWriter)
	buf := r.buf[:0]
	for _, rec := range records {
		key, start, _, err := DecodeWindowChangelogKey(rec.Key)
		if err != nil {
			return fmt.Errorf("changelog: restore %s at offset %d: %w", r.store.Name(), rec.Offset, err)
		}
		if batched {
			buf = append(buf, state.WindowKeyValue{Key: key, Start: start, Value: rec.Value})
			continue
		}
		if err := r.store.Put(key, rec.Value, start); err != nil {
			return fmt.Errorf("changelog: restore %s: %w", r.store.Name(), err)
		}
	}
	if !batched {
		return nil
	}
	err := bw.PutWindows(buf)
	clear(buf) // do not pin record memory between batches
	r.buf = buf[:0]
	if err != nil {
		return fmt.Errorf("changelog: restore %s: %w", r.store.Name(), err)
	}
	return nil
}

type sessionRestorable struct {
	store state.SessionStore
	buf   []state.SessionKeyValue
}

func (r *sessionRestorable) Name() string { return r.store.Name() }

// RestoreBatch writes the records as one batch when the store has a batch
// write, else one at a time; a tombstone removes its session.
func (r *sessionRestorable) RestoreBatch(records []*kgo.Record) error {
	bw, batched := r.store.(state.SessionBatchWriter)
	buf := r.buf[:0]
	for _, rec := range records {
		key, start, end, err := DecodeSessionChangelogKey(rec.Key)
		if err != nil {
			return fmt.Errorf("changelog: restore %s at offset %d: %w", r.store.Name(), rec.Offset, err)
		}
		if batched {
			buf = append(buf, state.SessionKeyValue{Key: key, Start: start, End: end, Value: rec.Value})
			continue
		}
		if rec.Value == nil {
			err = r.store.Remove(key, start, end)
		} else {
			err = r.store.Put(key, start, end, rec.Value)
		}
		if err != nil {
			return fmt.Errorf("changelog: restore %s: %w", r.store.Name(), err)
		}
	}
	if !batched {
		return nil
	}
	err := bw.PutSessions(buf)
	clear(buf)
	r.buf = buf[:0]
	if err != nil {
		return fmt.Errorf("changelog: restore %s: %w", r.store.Name(), err)
	}
	return nil
}

type bufferRestorable struct{ buf *state.TimeOrderedBuffer }

func (r bufferRestorable) Name() string { return r.buf.Name() }

func (r bufferRestorable) RestoreBatch(records []*kgo.Record) error {
	var hs []serde.Header
	for _, rec := range records {
		hs = hs[:0]
		for _, h := range rec.Headers {
			hs = append(hs, serde.Header{Key: h.Key, Value: h.Value})
		}
		if err := r.buf.Restore(rec.Key, rec.Value, hs); err != nil {
			return fmt.Errorf("changelog: restore %s at offset %d: %w", r.buf.Name(), rec.Offset, err)
		}
	}
	return nil
}
