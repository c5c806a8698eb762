package stream

import (
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
	name   string
	engine state.Engine
}

// WithName names the suppression node; its buffer store is
// "<name>-store" (Kafka Streams' Suppressed.withName).
func (s Suppressed) WithName(name string) Suppressed { s.name = name; return s }

// WithEngine puts the buffer store on an engine (default: RocksDB).
func (s Suppressed) WithEngine(e state.Engine) Suppressed { s.engine = e; return s }

func (s Suppressed) option() option {
	return func(o *options) { o.name, o.engine = s.name, s.engine }
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

// windowEnder is what Windowed keys offer suppression: a function
// returning the end of a key's window, the time a final result waits for.
// It is asked once, of K's zero value: calling a method through the
// interface on every record would box each key (one allocation per
// record), while the function, a func(Windowed[K]) int64 and so a
// func(K) int64 for the suppressor's K, takes keys as they are.
type windowEnder interface{ windowEndFunc() any }

func (Windowed[K]) windowEndFunc() any {
	return func(w Windowed[K]) int64 { return w.Window.end }
}

// windowEndOf is the window-end function of K, or nil when K is not
// windowed.
func windowEndOf[K any]() func(K) int64 {
	var zero K
	we, ok := any(zero).(windowEnder)
	if !ok {
		return nil
	}
	f, _ := we.windowEndFunc().(func(K) int64)
	return f
}

// Suppress holds back the table's updates as s says. The buffer is Kafka
// Streams' in-memory time-ordered buffer, logged to its own changelog
// (Suppressed.WithName names the operator and its store "<name>-store")
// at every commit and rebuilt from it on restart; it is kept in memory
// whatever engine Suppressed names. Tombstones are buffered too; for final
// results a buffered tombstone is dropped at emission (a window that never
// emitted needs no deletion). An emitted update carries the timestamp and
// headers of the latest update buffered for its key, and that update's
// old value.
func (t KTable[K, V]) Suppress(s Suppressed) KTable[K, V] {
	b := t.b
	o := collect([]option{s.option()})
	name := b.nameOr(o, "KTABLE-SUPPRESS-")
	store := o.storeName
	if store == "" {
		store = name + "-store"
	}
	var wait int64
	if s.final {
		if windowEndOf[K]() == nil {
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
	spec.Kind, spec.Engine, spec.Caching = state.KindTimeOrderedBuffer, state.InMemory, false
	final, buf, ks, vs := s.final, s.buffer, t.keySerde, t.valueSerde
	topology.AddProcessor(b.tb, name, func() topology.Processor[K, Change[V], K, Change[V]] {
		p := &suppressor[K, V]{store: store, final: final, wait: wait, bounds: buf, ks: ks, vs: vs, time: newStreamTime()}
		if final {
			p.windowEnd = windowEndOf[K]()
		}
		p.ka, _ = ks.(serde.Appender[K])
		p.kshare, _ = ks.(sharedDecoder[K])
		p.va, _ = vs.(serde.Appender[V])
		return p
	}, t.node)
	b.tb.AddStateStore(spec, name)
	return KTable[K, V]{b: b, node: name, keySerde: t.keySerde, valueSerde: t.valueSerde}
}

// suppressor is Kafka Streams' KTableSuppressProcessor over a
// state.TimeOrderedBuffer: each change is buffered (serialized) under its
// buffer time, then everything due is emitted in (buffer time, key)
// order, then the bounds are enforced.
type suppressor[K, V any] struct {
	store  string
	final  bool
	wait   int64
	bounds BufferConfig
	ks     serde.Serde[K]
	vs     serde.Serde[V]
	ctx    topology.ProcessorContext[K, Change[V]]
	buf    *state.TimeOrderedBuffer
	time   streamTime
	// windowEnd is the buffer time of a final result's key.
	windowEnd func(K) int64
	// ka and va are ks and vs when they append (serde.Appender): a
	// change is then encoded into scratch, which the buffer copies from.
	ka      serde.Appender[K]
	va      serde.Appender[V]
	scratch []byte
	// kshare is ks when it can decode the buffer's keys without copying.
	kshare sharedDecoder[K]

	// expire is the latest buffer time due; due, over and emit are the
	// eviction's callbacks, made once.
	expire int64
	due    func() bool
	over   func() bool
	emit   func(key []byte, v *state.BufferValue) error
}

func (p *suppressor[K, V]) Init(ctx topology.ProcessorContext[K, Change[V]]) error {
	p.ctx = ctx
	p.time = resumeStreamTime(ctx)
	s, err := ctx.StateStore(p.store)
	if err != nil {
		return err
	}
	buf, ok := s.(*state.TimeOrderedBuffer)
	if !ok {
		return fmt.Errorf("stream: store %q is a %T, not a suppression buffer", p.store, s)
	}
	p.buf = buf
	p.due = func() bool { return p.buf.MinTimestamp() <= p.expire }
	p.over = func() bool {
		return (p.bounds.MaxRecords > 0 && p.buf.NumRecords() > p.bounds.MaxRecords) ||
			(p.bounds.MaxBytes > 0 && p.buf.BufferSize() > p.bounds.MaxBytes)
	}
	p.emit = p.forward
	return nil
}

func (p *suppressor[K, V]) Process(rec topology.Record[K, Change[V]]) error {
	ts := ms(rec.Timestamp)
	now := p.time.observe(ts)
	kb, ob, nb, err := p.encode(rec)
	if err != nil {
		return err
	}
	bt := ts
	if p.final {
		bt = p.windowEnd(rec.Key)
	}
	rc := state.RecordContext{Timestamp: ts, Headers: rec.Headers, Partition: -1, Offset: -1}
	if m, ok := p.ctx.RecordMetadata(); ok {
		rc.Topic, rc.Partition, rc.Offset = m.Topic, m.Partition, m.Offset
	}
	if err := p.buf.Put(bt, kb, ob, nb, rc); err != nil {
		return fmt.Errorf("write suppression buffer %s: %w", p.store, err)
	}
	p.expire = math.MinInt64
	if now >= math.MinInt64+p.wait {
		p.expire = now - p.wait
	}
	if err := p.buf.EvictWhile(p.due, p.emit); err != nil {
		return err
	}
	if !p.over() {
		return nil
	}
	if p.bounds.WhenFull == EmitEarlyWhenFull {
		return p.buf.EvictWhile(p.over, p.emit)
	}
	return fmt.Errorf("%w: %s holds %d records, %d bytes (bounds %d records, %d bytes)",
		ErrSuppressionBufferFull, p.store, p.buf.NumRecords(), p.buf.BufferSize(), p.bounds.MaxRecords, p.bounds.MaxBytes)
}

// encode serializes rec's key and its old and new values (nil when
// absent) for the buffer, which copies them: with appending serdes into
// p.scratch, reused from record to record.
func (p *suppressor[K, V]) encode(rec topology.Record[K, Change[V]]) (kb, ob, nb []byte, err error) {
	if p.ka == nil || p.va == nil {
		if kb, err = p.ks.Serialize(p.store, nil, rec.Key); err != nil {
			return nil, nil, nil, fmt.Errorf("serialize key for suppression buffer %s: %w", p.store, err)
		}
		if rec.Value.HasNew {
			if nb, err = p.vs.Serialize(p.store, nil, rec.Value.New); err != nil {
				return nil, nil, nil, fmt.Errorf("serialize value for suppression buffer %s: %w", p.store, err)
			}
		}
		if rec.Value.HasOld {
			if ob, err = p.vs.Serialize(p.store, nil, rec.Value.Old); err != nil {
				return nil, nil, nil, fmt.Errorf("serialize old value for suppression buffer %s: %w", p.store, err)
			}
		}
		return kb, ob, nb, nil
	}
	b := p.scratch[:0]
	if b == nil {
		// Non-nil, so that every part cut from it is too.
		b = make([]byte, 0, 64)
	}
	if b, err = p.ka.AppendSerialize(b, p.store, nil, rec.Key); err != nil {
		return nil, nil, nil, fmt.Errorf("serialize key for suppression buffer %s: %w", p.store, err)
	}
	nk := len(b)
	if rec.Value.HasNew {
		if b, err = p.va.AppendSerialize(b, p.store, nil, rec.Value.New); err != nil {
			return nil, nil, nil, fmt.Errorf("serialize value for suppression buffer %s: %w", p.store, err)
		}
	}
	nn := len(b)
	if rec.Value.HasOld {
		if b, err = p.va.AppendSerialize(b, p.store, nil, rec.Value.Old); err != nil {
			return nil, nil, nil, fmt.Errorf("serialize old value for suppression buffer %s: %w", p.store, err)
		}
	}
	if cap(b) <= maxSuppressScratch {
		p.scratch = b[:0]
	}
	// Full slice expressions: an empty value stays non-nil (null is nil).
	kb = b[:nk:nk]
	if rec.Value.HasNew {
		nb = b[nk:nn:nn]
	}
	if rec.Value.HasOld {
		ob = b[nn:len(b):len(b)]
	}
	return kb, ob, nb, nil
}

// maxSuppressScratch bounds the encoding buffer a suppressor keeps.
const maxSuppressScratch = 64 << 10

// forward emits an evicted entry with the timestamp and headers of the
// update that made it, as Kafka Streams does; a final result's tombstone
// is dropped.
func (p *suppressor[K, V]) forward(kb []byte, v *state.BufferValue) error {
	if p.final && v.New == nil {
		return nil
	}
	// The buffer never modifies its keys: a key may share their bytes.
	var k K
	var err error
	shared := false
	if p.kshare != nil {
		k, shared, err = p.kshare.deserializeShared(kb)
	}
	if !shared && err == nil {
		k, err = p.ks.Deserialize(p.store, nil, kb)
	}
	if err != nil {
		return fmt.Errorf("decode key of suppression buffer %s: %w", p.store, err)
	}
	var ch Change[V]
	if v.New != nil {
		if ch.New, err = p.vs.Deserialize(p.store, nil, v.New); err != nil {
			return fmt.Errorf("decode suppression buffer %s: %w", p.store, err)
		}
		ch.HasNew = true
	}
	if v.Old != nil {
		if ch.Old, err = p.vs.Deserialize(p.store, nil, v.Old); err != nil {
			return fmt.Errorf("decode suppression buffer %s: %w", p.store, err)
		}
		ch.HasOld = true
	}
	return p.ctx.Forward(topology.Record[K, Change[V]]{Key: k, Value: ch, Timestamp: msTime(v.Context.Timestamp), Headers: v.Context.Headers})
}

func (p *suppressor[K, V]) Close() error { return nil }
