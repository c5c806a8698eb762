package stream

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/kafki/kafki/serde"
	"github.com/kafki/kafki/state"
	"github.com/kafki/kafki/topology"
)

// fnProc is the processor behind every stateless operator: fn gets the
// context and the typed record and forwards whatever it likes. One typed
// indirect call per hop, no boxing.
type fnProc[KIn, VIn, KOut, VOut any] struct {
	ctx topology.ProcessorContext[KOut, VOut]
	fn  func(ctx topology.ProcessorContext[KOut, VOut], rec topology.Record[KIn, VIn]) error
}

func (p *fnProc[KIn, VIn, KOut, VOut]) Init(ctx topology.ProcessorContext[KOut, VOut]) error {
	p.ctx = ctx
	return nil
}

func (p *fnProc[KIn, VIn, KOut, VOut]) Process(rec topology.Record[KIn, VIn]) error {
	return p.fn(p.ctx, rec)
}

func (p *fnProc[KIn, VIn, KOut, VOut]) Close() error { return nil }

func addFn[KIn, VIn, KOut, VOut any](b *Builder, name, parent string, fn func(topology.ProcessorContext[KOut, VOut], topology.Record[KIn, VIn]) error) {
	topology.AddProcessor(b.tb, name, func() topology.Processor[KIn, VIn, KOut, VOut] {
		return &fnProc[KIn, VIn, KOut, VOut]{fn: fn}
	}, parent)
}

// Change is an update of a KTable row, as Kafka Streams' Change<V>: the new
// value and the value it replaced. HasNew false means the row was deleted
// (a tombstone); HasOld false means the row did not exist before.
type Change[V any] struct {
	New, Old       V
	HasNew, HasOld bool
}

// changeSerde carries a Change through a repartition topic:
// flags byte (1 = new, 2 = old), 4-byte big-endian length of new, new, old.
type changeSerde[V any] struct{ inner serde.Serde[V] }

func (s changeSerde[V]) Serialize(topic string, h []serde.Header, c Change[V]) ([]byte, error) {
	var nb, ob []byte
	var err error
	flags := byte(0)
	if c.HasNew {
		flags |= 1
		if nb, err = s.inner.Serialize(topic, h, c.New); err != nil {
			return nil, err
		}
	}
	if c.HasOld {
		flags |= 2
		if ob, err = s.inner.Serialize(topic, h, c.Old); err != nil {
			return nil, err
		}
	}
	out := make([]byte, 0, 5+len(nb)+len(ob))
	out = append(out, flags)
	out = binary.BigEndian.AppendUint32(out, uint32(len(nb)))
	out = append(out, nb...)
	return append(out, ob...), nil
}

var errBadChange = errors.New("stream: malformed change record")

func (s changeSerde[V]) Deserialize(topic string, h []serde.Header, data []byte) (Change[V], error) {
	var c Change[V]
	if len(data) < 5 || data[0] > 3 {
		return c, errBadChange
	}
	n := binary.BigEndian.Uint32(data[1:5])
	if uint64(n) > uint64(len(data)-5) {
		return c, errBadChange
	}
	nb, ob := data[5:5+n], data[5+n:]
	var err error
	if c.HasNew = data[0]&1 != 0; c.HasNew {
		if c.New, err = s.inner.Deserialize(topic, h, nb); err != nil {
			return c, err
		}
	}
	if c.HasOld = data[0]&2 != 0; c.HasOld {
		if c.Old, err = s.inner.Deserialize(topic, h, ob); err != nil {
			return c, err
		}
	}
	return c, nil
}

// kvStore is a typed view of a key-value store for the DSL's processors.
// A timestamped one (every KTable store, as Kafka Streams' DSL tables)
// keeps each value with the timestamp of the record that wrote it
// (state.EncodeTimestamped).
type kvStore[K, V any] struct {
	s           state.KeyValueStore
	ks          serde.Serde[K]
	vs          serde.Serde[V]
	timestamped bool
	// va is vs when it appends (serde.Appender): a timestamped value is
	// then encoded behind its timestamp in scratch and copied out in one
	// allocation, not two. scratch is shared by the copies of the view.
	va      serde.Appender[V]
	scratch *[]byte
	// owned is s when it can keep a value slice handed over to it
	// (PutOwned) rather than copy it: the logging store over the
	// write-back buffer of a persistent engine.
	owned ownedPutter
	// borrow is s when it also lets the caller reuse the key after a put
	// (PutOwnedBorrowedKey), the logging key-value store: a timestamped
	// table store then encodes its keys into kscratch (keyScratch), when
	// ks appends (ka), instead of a slice per record.
	borrow   borrowedKeyPutter
	ka       serde.Appender[K]
	kscratch *[]byte
	// tsPut is s when it is a caching store (PutWithTimestamp).
	tsPut timestampedPutter
}

// ownedPutter is a store that can keep the value slice it is given: the
// caller never modifies it again.
type ownedPutter interface {
	PutOwned(key, value []byte) error
}

// borrowedKeyPutter is an ownedPutter that keeps no reference to the key
// it is given past the call.
type borrowedKeyPutter interface {
	PutOwnedBorrowedKey(key, value []byte) error
}

// openKV opens a plain key-value store.
func openKV[K, V any, KO, VO any](ctx topology.ProcessorContext[KO, VO], name string, ks serde.Serde[K], vs serde.Serde[V]) (kvStore[K, V], error) {
	s, err := ctx.StateStore(name)
	if err != nil {
		return kvStore[K, V]{}, err
	}
	kv, ok := s.(state.KeyValueStore)
	if !ok {
		return kvStore[K, V]{}, fmt.Errorf("stream: store %q is a %T, not a key-value store", name, s)
	}
	va, _ := vs.(serde.Appender[V])
	owned, _ := kv.(ownedPutter)
	borrow, _ := kv.(borrowedKeyPutter)
	ka, _ := ks.(serde.Appender[K])
	tsPut, _ := kv.(timestampedPutter)
	return kvStore[K, V]{s: kv, ks: ks, vs: vs, va: va, scratch: new([]byte), owned: owned,
		borrow: borrow, ka: ka, kscratch: new([]byte), tsPut: tsPut}, nil
}

// openTableKV opens the timestamped store of a KTable.
func openTableKV[K, V any, KO, VO any](ctx topology.ProcessorContext[KO, VO], name string, ks serde.Serde[K], vs serde.Serde[V]) (kvStore[K, V], error) {
	kv, err := openKV(ctx, name, ks, vs)
	kv.timestamped = true
	return kv, err
}

func (s *kvStore[K, V]) keyBytes(k K) ([]byte, error) { return s.ks.Serialize(s.s.Name(), nil, k) }

// keyScratch is keyBytes for a key used only to read the store and then
// write or delete it (put, remove) before the next call: for a store that
// does not keep the key it is given (borrow), the key is encoded into a
// scratch buffer the next call overwrites.
func (s *kvStore[K, V]) keyScratch(k K) ([]byte, error) {
	if s.borrow == nil || s.ka == nil || !s.timestamped {
		return s.keyBytes(k)
	}
	kb, err := s.ka.AppendSerialize((*s.kscratch)[:0], s.s.Name(), nil, k)
	if err != nil {
		return nil, err
	}
	if cap(kb) <= 64<<10 {
		*s.kscratch = kb[:0]
	}
	return kb, nil
}

// get returns the value under kb and whether there was one.
func (s *kvStore[K, V]) get(kb []byte) (V, bool, error) {
	v, _, ok, err := s.getWithTime(kb)
	return v, ok, err
}

// getWithTime returns the value under kb, the timestamp it was written
// with (-1 for a store that keeps none) and whether there was one.
func (s *kvStore[K, V]) getWithTime(kb []byte) (V, int64, bool, error) {
	var v V
	b, err := s.s.Get(kb)
	if err != nil || b == nil {
		return v, -1, false, err
	}
	v, ts, err := s.decode(b)
	return v, ts, err == nil, err
}

// decode reads stored value bytes.
func (s *kvStore[K, V]) decode(b []byte) (V, int64, error) {
	ts := int64(-1)
	if s.timestamped {
		var err error
		if ts, b, err = state.DecodeTimestamped(b); err != nil {
			var v V
			return v, ts, fmt.Errorf("stream: store %s: %w", s.s.Name(), err)
		}
	}
	v, err := s.vs.Deserialize(s.s.Name(), nil, b)
	return v, ts, err
}

// timestampedPutter is what caching stores offer: a put that keeps the
// timestamp of the record the cache forwards on flush.
type timestampedPutter interface {
	PutWithTimestamp(key, value []byte, ts int64) error
}

// put stores v written at ts.
func (s *kvStore[K, V]) put(kb []byte, v V, ts int64) error {
	var b []byte
	var err error
	if s.timestamped && s.va != nil {
		buf := state.AppendTimestamped((*s.scratch)[:0], ts, nil)
		if buf, err = s.va.AppendSerialize(buf, s.s.Name(), nil, v); err != nil {
			return err
		}
		if cap(buf) <= 64<<10 {
			*s.scratch = buf[:0]
		}
		// The store's own copy: the changelog record holds it until the
		// broker acknowledges it.
		b = append(make([]byte, 0, len(buf)), buf...)
	} else {
		if b, err = s.vs.Serialize(s.s.Name(), nil, v); err != nil {
			return err
		}
		if !s.timestamped {
			return s.s.Put(kb, b)
		}
		b = state.EncodeTimestamped(ts, b)
	}
	if s.tsPut != nil {
		return s.tsPut.PutWithTimestamp(kb, b, ts)
	}
	if s.borrow != nil {
		// b is this put's own slice (made above), and kb may be a
		// scratch buffer (keyScratch), which the store does not keep.
		return s.borrow.PutOwnedBorrowedKey(kb, b)
	}
	if s.owned != nil {
		// b is this put's own slice (made above), never touched again.
		return s.owned.PutOwned(kb, b)
	}
	return s.s.Put(kb, b)
}

// remove deletes kb, a tombstone written at ts.
func (s *kvStore[K, V]) remove(kb []byte, ts int64) error {
	if s.tsPut != nil && s.timestamped {
		return s.tsPut.PutWithTimestamp(kb, nil, ts)
	}
	if s.borrow != nil {
		// kb may be a scratch buffer (keyScratch), and the changelog
		// record of the delete keeps the key it is given.
		kb = bytes.Clone(kb)
	}
	_, err := s.s.Delete(kb)
	return err
}

// setFlushListener sets fn on s when s is a record cache (a
// state.CachedStore, as state.BuildStore makes it) and reports whether it
// is one.
func setFlushListener(s state.Store, fn state.FlushListener) bool {
	c, ok := s.(state.CachedStore)
	if ok {
		c.SetFlushListener(fn)
	}
	return ok
}

// flushHeaders returns the headers of the cache entry being forwarded: the
// cache puts the entry's record context into the task's while it calls
// its flush listener.
func flushHeaders(ctx any) []serde.Header {
	if rc, ok := ctx.(interface{ RecordContext() *state.RecordContext }); ok {
		return rc.RecordContext().Headers
	}
	return nil
}

// tableEmitter forwards a table's changes: directly, or, when its store
// caches, as the cache flushes (so that updates to one key between two
// flushes are merged, as Kafka Streams does with caching on).
type tableEmitter[K, V any] struct {
	store   string
	caching bool
	ks      serde.Serde[K]
	vs      serde.Serde[V]
	ctx     topology.ProcessorContext[K, Change[V]]
	kv      kvStore[K, V]
	cached  bool
}

func (e *tableEmitter[K, V]) init(ctx topology.ProcessorContext[K, Change[V]]) error {
	e.ctx = ctx
	kv, err := openTableKV(ctx, e.store, e.ks, e.vs)
	if err != nil {
		return err
	}
	e.kv = kv
	if e.caching {
		e.cached = setFlushListener(kv.s, func(key, newValue, oldValue []byte, ts int64) error {
			rec := topology.Record[K, Change[V]]{Timestamp: msTime(ts), Headers: flushHeaders(ctx)}
			var err error
			if rec.Key, err = e.ks.Deserialize(e.store, nil, key); err != nil {
				return err
			}
			// As Kafka Streams' timestamped flush listener: the new value's
			// timestamp, else (a delete) the entry's.
			if newValue != nil {
				rec.Value.HasNew = true
				if rec.Value.New, ts, err = e.kv.decode(newValue); err != nil {
					return err
				}
				rec.Timestamp = msTime(ts)
			}
			if oldValue != nil {
				rec.Value.HasOld = true
				if rec.Value.Old, _, err = e.kv.decode(oldValue); err != nil {
					return err
				}
			}
			return ctx.Forward(rec)
		})
	}
	return nil
}

// write stores the new value with the record's timestamp (or deletes the
// key) and forwards the change unless the cache will.
func (e *tableEmitter[K, V]) write(kb []byte, rec topology.Record[K, Change[V]]) error {
	var err error
	if rec.Value.HasNew {
		err = e.kv.put(kb, rec.Value.New, ms(rec.Timestamp))
	} else {
		err = e.kv.remove(kb, ms(rec.Timestamp))
	}
	if err != nil || e.cached {
		return err
	}
	return e.ctx.Forward(rec)
}

// tableSource turns a changelog stream into table changes.
type tableSource[K, V any] struct {
	emit tableEmitter[K, V]
}

func (p *tableSource[K, V]) Init(ctx topology.ProcessorContext[K, Change[V]]) error {
	return p.emit.init(ctx)
}

func (p *tableSource[K, V]) Process(rec topology.Record[K, V]) error {
	if rec.NullKey {
		p.emit.ctx.RecordDropped("null-key")
		return nil
	}
	kb, err := p.emit.kv.keyScratch(rec.Key)
	if err != nil {
		return err
	}
	old, had, err := p.emit.kv.get(kb)
	if err != nil {
		return err
	}
	return p.emit.write(kb, topology.Record[K, Change[V]]{Key: rec.Key, Timestamp: rec.Timestamp, Headers: rec.Headers,
		Value: Change[V]{New: rec.Value, HasNew: !rec.NullValue, Old: old, HasOld: had}})
}

func (p *tableSource[K, V]) Close() error { return nil }
