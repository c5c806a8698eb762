package stream

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/kafki/kafki/serde"
	"github.com/kafki/kafki/state"
	"github.com/kafki/kafki/topology"
)

// FullBehavior is what a suppression buffer does when it is full.
type FullBehavior int

const (
	// ShutDownWhenFull fails the task with ErrSuppressionBufferFull: no
	// result is ever emitted early, at the cost of stopping.
	ShutDownWhenFull FullBehavior = iota
	// EmitEarlyWhenFull emits the oldest buffered results before their
	// time to make room. UntilWindowCloses does not allow it, since a
	// final result must be final.
	EmitEarlyWhenFull
)

// BufferConfig bounds a suppression buffer. The zero value is unbounded
// and shuts down if memory ever runs out, as Kafka Streams'
// BufferConfig.unbounded().
type BufferConfig struct {
	// MaxRecords is the most keys the buffer holds; 0 is no limit.
	MaxRecords int
	// MaxBytes bounds the buffered keys and values; 0 is no limit.
	MaxBytes int64
	// WhenFull chooses between shutting down and emitting early.
	WhenFull FullBehavior
}

// ErrSuppressionBufferFull stops a task whose suppression buffer, set to
// ShutDownWhenFull, has outgrown its bounds.
var ErrSuppressionBufferFull = errors.New("stream: suppression buffer is full")

// Suppressed chooses how Suppress holds back a table's updates.
type Suppressed struct {
	final  bool
	limit  time.Duration
	buffer BufferConfig
}

// UntilWindowCloses emits exactly one result per window of a windowed
// table: its final value, once stream time passes the window's end plus
// its grace period.
func UntilWindowCloses(buffer BufferConfig) Suppressed {
	return Suppressed{final: true, buffer: buffer}
}

// UntilTimeLimit emits a key's latest update once limit has passed (in
// stream time) since its first buffered update, rate-limiting each key to
// one update per limit.
func UntilTimeLimit(limit time.Duration, buffer BufferConfig) Suppressed {
	return Suppressed{limit: limit, buffer: buffer}
}

// windowEnder is what Windowed keys offer suppression: the end of their
// window, the time a final result waits for.
type windowEnder interface{ windowEnd() int64 }

func (w Windowed[K]) windowEnd() int64 { return w.End }

// Suppress holds back the table's updates as s says. The buffer is a
// key-value store with its own changelog (StoreName names it), so that it
// survives restarts. Tombstones are buffered too; for final results a
// buffered tombstone is dropped at emission (a window that never emitted
// needs no deletion).
func (t KTable[K, V]) Suppress(s Suppressed, opts ...Option) KTable[K, V] {
	b := t.b
	o := collect(opts)
	name := b.nameOr(o, "KTABLE-SUPPRESS-")
	store := o.storeName
	if store == "" {
		store = name + "-store"
	}
	var wait int64
	if s.final {
		var zero K
		if _, ok := any(zero).(windowEnder); !ok {
			b.problem(topologyInvalid("%q: UntilWindowCloses needs a windowed table (keys of type Windowed[K]), not KTable[%s, ...]", name, typeName[K]()))
		}
		grace, ok := b.ext.grace[t.node]
		if !ok {
			b.problem(topologyInvalid("%q: UntilWindowCloses must follow a windowed aggregation directly; %q is not one", name, t.node))
		}
		if s.buffer.WhenFull == EmitEarlyWhenFull {
			b.problem(topologyInvalid("%q: UntilWindowCloses cannot emit early when its buffer is full", name))
		}
		wait = grace.Milliseconds()
	} else {
		if s.limit < 0 {
			b.problem(topologyInvalid("%q: time limit %v must not be negative", name, s.limit))
		}
		wait = s.limit.Milliseconds()
	}
	if s.buffer.MaxRecords < 0 || s.buffer.MaxBytes < 0 {
		b.problem(topologyInvalid("%q: buffer bounds must not be negative", name))
	}
	need(b, t.keySerde, name, "key", "suppression buffer "+store)
	need(b, t.valueSerde, name, "value", "suppression buffer "+store)
	spec := o.spec(store)
	spec.Caching = false
	final, buf, ks, cs := s.final, s.buffer, t.keySerde, changeSerde[V]{inner: t.valueSerde}
	topology.AddProcessor(b.tb, name, func() topology.Processor[K, Change[V], K, Change[V]] {
		return &suppressor[K, V]{store: store, final: final, wait: wait, buf: buf, ks: ks, cs: cs, time: newStreamTime()}
	}, t.node)
	b.tb.AddStateStore(spec, name)
	return KTable[K, V]{b: b, node: name, keySerde: t.keySerde, valueSerde: t.valueSerde}
}

// suppressor buffers changes in a key-value store keyed by
// (buffer time, key), so that the store's order is eviction order. index
// maps each key to its buffer time; it is rebuilt from the store (restored
// from its changelog) at Init.
type suppressor[K, V any] struct {
	store string
	final bool
	wait  int64
	buf   BufferConfig
	ks    serde.Serde[K]
	cs    changeSerde[V]
	ctx   topology.ProcessorContext[K, Change[V]]
	kv    state.KeyValueStore
	index map[string]int64
	bytes int64
	time  streamTime
	// minTime is the smallest buffer time in the buffer (MaxInt64 when it
	// is empty). It lets Process skip the store scan when nothing is due,
	// and lets the scan seek past the tombstones of what was emitted
	// before: without it every record rescans them, quadratic in RocksDB.
	minTime int64
}

func (p *suppressor[K, V]) Init(ctx topology.ProcessorContext[K, Change[V]]) error {
	p.ctx = ctx
	p.time = resumeStreamTime(ctx)
	kv, err := openKV(ctx, p.store, p.ks, p.cs)
	if err != nil {
		return err
	}
	p.kv, p.index, p.minTime = kv.s, map[string]int64{}, math.MaxInt64
	it, err := p.kv.All()
	if err != nil {
		return fmt.Errorf("read suppression buffer %s: %w", p.store, err)
	}
	defer it.Close()
	for it.Next() {
		k := it.Key()
		if len(k) < 8 {
			return fmt.Errorf("stream: suppression buffer %s holds a %d-byte key", p.store, len(k))
		}
		p.index[string(k[8:])] = bufferTimeOf(k)
		p.minTime = min(p.minTime, bufferTimeOf(k))
		p.bytes += int64(len(k) + len(it.Value()))
	}
	return it.Err()
}

// bufferKey orders by time first; the sign bit is flipped so that
// negative times sort before positive ones.
func bufferKey(t int64, kb []byte) []byte {
	return append(binary.BigEndian.AppendUint64(make([]byte, 0, 8+len(kb)), uint64(t)^(1<<63)), kb...)
}

func bufferTimeOf(k []byte) int64 { return int64(binary.BigEndian.Uint64(k) ^ (1 << 63)) }

func (p *suppressor[K, V]) Process(rec topology.Record[K, Change[V]]) error {
	now := p.time.observe(rec.Timestamp)
	kb, err := p.ks.Serialize(p.store, nil, rec.Key)
	if err != nil {
		return fmt.Errorf("serialize key for suppression buffer %s: %w", p.store, err)
	}
	bt := rec.Timestamp
	if p.final {
		bt = any(rec.Key).(windowEnder).windowEnd()
	}
	ch := rec.Value
	if prev, ok := p.index[string(kb)]; ok {
		// Keep the first buffer time (rate limiting counts from the first
		// update) and the value the key had before buffering began.
		bt = prev
		old, err := p.kv.Get(bufferKey(prev, kb))
		if err != nil {
			return fmt.Errorf("read suppression buffer %s: %w", p.store, err)
		}
		if len(old) >= 8 {
			pc, err := p.cs.Deserialize(p.store, nil, old[8:])
			if err != nil {
				return fmt.Errorf("decode suppression buffer %s: %w", p.store, err)
			}
			ch.Old, ch.HasOld = pc.Old, pc.HasOld
		}
		p.bytes -= int64(8 + len(kb) + len(old))
	}
	vb, err := p.cs.Serialize(p.store, nil, ch)
	if err != nil {
		return fmt.Errorf("serialize value for suppression buffer %s: %w", p.store, err)
	}
	val := binary.BigEndian.AppendUint64(make([]byte, 0, 8+len(vb)), uint64(rec.Timestamp))
	val = append(val, vb...)
	if err := p.kv.Put(bufferKey(bt, kb), val); err != nil {
		return fmt.Errorf("write suppression buffer %s: %w", p.store, err)
	}
	p.index[string(kb)] = bt
	p.minTime = min(p.minTime, bt)
	p.bytes += int64(8 + len(kb) + len(val))
	expire := int64(math.MinInt64)
	if now >= math.MinInt64+p.wait {
		expire = now - p.wait
	}
	return p.evict(expire)
}

// evict emits every entry buffered at or before expire, then, while the
// buffer is over its bounds, the oldest entries (or fails).
func (p *suppressor[K, V]) evict(expire int64) error {
	n, size := len(p.index), p.bytes
	overBounds := func() bool {
		return (p.buf.MaxRecords > 0 && n > p.buf.MaxRecords) || (p.buf.MaxBytes > 0 && size > p.buf.MaxBytes)
	}
	if p.minTime > expire && !overBounds() {
		return nil
	}
	it, err := p.kv.Range(bufferKey(p.minTime, nil), nil)
	if err != nil {
		return fmt.Errorf("read suppression buffer %s: %w", p.store, err)
	}
	var due []state.KeyValue
	p.minTime = math.MaxInt64
	for it.Next() {
		k := it.Key()
		if bufferTimeOf(k) > expire && !overBounds() {
			p.minTime = bufferTimeOf(k)
			break
		}
		if bufferTimeOf(k) > expire && p.buf.WhenFull == ShutDownWhenFull {
			it.Close()
			p.minTime = bufferTimeOf(k)
			return fmt.Errorf("%w: %s holds %d records, %d bytes (bounds %d records, %d bytes)",
				ErrSuppressionBufferFull, p.store, n, size, p.buf.MaxRecords, p.buf.MaxBytes)
		}
		due = append(due, state.KeyValue{Key: append([]byte(nil), k...), Value: append([]byte(nil), it.Value()...)})
		n, size = n-1, size-int64(len(k)+len(it.Value()))
	}
	err = errors.Join(it.Err(), it.Close())
	if err != nil {
		return fmt.Errorf("read suppression buffer %s: %w", p.store, err)
	}
	for _, e := range due {
		if err := p.emit(e); err != nil {
			return err
		}
	}
	return nil
}

func (p *suppressor[K, V]) emit(e state.KeyValue) error {
	if _, err := p.kv.Delete(e.Key); err != nil {
		return fmt.Errorf("delete from suppression buffer %s: %w", p.store, err)
	}
	kb := e.Key[8:]
	delete(p.index, string(kb))
	p.bytes -= int64(len(e.Key) + len(e.Value))
	if len(e.Value) < 8 {
		return fmt.Errorf("stream: suppression buffer %s holds a %d-byte value", p.store, len(e.Value))
	}
	ch, err := p.cs.Deserialize(p.store, nil, e.Value[8:])
	if err != nil {
		return fmt.Errorf("decode suppression buffer %s: %w", p.store, err)
	}
	if p.final && !ch.HasNew {
		return nil
	}
	k, err := p.ks.Deserialize(p.store, nil, kb)
	if err != nil {
		return fmt.Errorf("decode key of suppression buffer %s: %w", p.store, err)
	}
	return p.ctx.Forward(topology.Record[K, Change[V]]{Key: k, Value: ch, Timestamp: int64(binary.BigEndian.Uint64(e.Value))})
}

func (p *suppressor[K, V]) Close() error { return nil }
