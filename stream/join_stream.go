package stream

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/kafki/kafki/serde"
	"github.com/kafki/kafki/state"
	"github.com/kafki/kafki/topology"
)

type joinKind int

const (
	innerJoin joinKind = iota
	leftJoin
	outerJoin
)

// joinFn is every joiner in one shape: each side's value and whether it
// is there. The public joiners (plain values, or pointers for a side that
// may be missing) are adapted to it once, at build time.
type joinFn[V1, V2, VR any] func(l V1, hasL bool, r V2, hasR bool) VR

// Join joins two streams on their keys: each pair of records with equal
// keys whose timestamps are within w (right record in [t-Before,
// t+After] of the left record at t) yields joiner(left, right), with the
// larger of the two timestamps. A record from either side joins every
// partner already seen. Streams whose keys may have changed are
// repartitioned first; the two sides' topics must be co-partitioned.
//
// StreamJoined names the join (stores "<name>-this-join-store" and
// "<name>-other-join-store") and sets the serdes of both sides' stores.
func Join[K, V1, V2, VR any](left KStream[K, V1], right KStream[K, V2], joiner func(V1, V2) VR, w JoinWindows, joined ...StreamJoined[K, V1, V2]) KStream[K, VR] {
	var fn joinFn[V1, V2, VR]
	if joiner != nil {
		fn = func(l V1, _ bool, r V2, _ bool) VR { return joiner(l, r) }
	}
	return streamJoin(left, right, innerJoin, fn, w, configs(joined))
}

// LeftJoin is Join that also emits joiner(left, nil) for a left record
// that found no partner — only once its join window and grace have passed
// with none, so that no "left-nil" result is followed by a real one.
func LeftJoin[K, V1, V2, VR any](left KStream[K, V1], right KStream[K, V2], joiner func(V1, *V2) VR, w JoinWindows, joined ...StreamJoined[K, V1, V2]) KStream[K, VR] {
	var fn joinFn[V1, V2, VR]
	if joiner != nil {
		fn = func(l V1, _ bool, r V2, hasR bool) VR {
			if !hasR {
				return joiner(l, nil)
			}
			return joiner(l, &r)
		}
	}
	return streamJoin(left, right, leftJoin, fn, w, configs(joined))
}

// OuterJoin is LeftJoin that also emits joiner(nil, right) for right
// records that found no partner, under the same rule.
func OuterJoin[K, V1, V2, VR any](left KStream[K, V1], right KStream[K, V2], joiner func(*V1, *V2) VR, w JoinWindows, joined ...StreamJoined[K, V1, V2]) KStream[K, VR] {
	var fn joinFn[V1, V2, VR]
	if joiner != nil {
		fn = func(l V1, hasL bool, r V2, hasR bool) VR {
			switch {
			case !hasL:
				return joiner(nil, &r)
			case !hasR:
				return joiner(&l, nil)
			}
			return joiner(&l, &r)
		}
	}
	return streamJoin(left, right, outerJoin, fn, w, configs(joined))
}

// joinSide carries a record of either side into the join processor, which
// needs both sides in one node so that they share one stream time.
type joinSide[V1, V2 any] struct {
	l     V1
	r     V2
	right bool
}

// joinParent repartitions a join input whose key may have changed, through
// "<join name>-<side>-repartition" or a generated topic.
func joinParent[K, V any](s KStream[K, V], name, side string) string {
	if !s.repartition {
		return s.node
	}
	base := name + "-" + side
	if name == "" {
		base = s.b.newName("KSTREAM-JOIN-" + strings.ToUpper(side) + "-")
	}
	return repartitionThrough(s.b, s.node, base, s.keySerde, s.valueSerde, 0, true)
}

func streamJoin[K, V1, V2, VR any](left KStream[K, V1], right KStream[K, V2], kind joinKind, fn joinFn[V1, V2, VR], w JoinWindows, opts []option) KStream[K, VR] {
	b := left.b
	o := collect(opts)
	ks := serdeOf(b, o.keySerde, left.keySerde, "join", "key")
	if ks == nil {
		ks = right.keySerde
	}
	v2s := serdeOf(b, o.ext.otherValueSerde, right.valueSerde, "join", "other value")
	// StreamJoined's serdes serve the repartition topics too.
	left.keySerde, right.keySerde = ks, serdeOf(b, o.keySerde, right.keySerde, "join", "key")
	left.valueSerde = serdeOf(b, o.valueSerde, left.valueSerde, "join", "value")
	right.valueSerde = v2s
	lp := joinParent(left, o.name, "left")
	rp := joinParent(right, o.name, "right")
	lw, rw := b.newName("KSTREAM-WINDOWED-"), b.newName("KSTREAM-WINDOWED-")
	name := b.nameOr(o, map[joinKind]string{innerJoin: "KSTREAM-JOINTHIS-", leftJoin: "KSTREAM-JOINTHIS-", outerJoin: "KSTREAM-OUTERTHIS-"}[kind])
	base := name
	if o.name == "" {
		base = b.newName(map[bool]string{false: "KSTREAM-JOINOTHER-", true: "KSTREAM-OUTEROTHER-"}[kind == outerJoin])
	}
	thisStore, otherStore := name+"-this-join-store", base+"-other-join-store"
	if o.name == "" {
		thisStore, otherStore = name+"-store", base+"-store"
	}
	outerStore := ""
	if kind != innerJoin {
		outerStore = name + "-outer-shared-join-store"
		if o.name == "" {
			outerStore = b.newName("KSTREAM-OUTERSHARED-") + "-store"
		}
	}
	if err := w.validate(); err != nil {
		b.problem(fmt.Errorf("%q: %w", name, err))
	}
	if fn == nil {
		b.problem(topologyInvalid("%q: nil joiner", name))
	}
	need(b, ks, name, "key", "join store "+thisStore)
	v1s := serdeOf(b, o.valueSerde, left.valueSerde, name, "value")
	need(b, v1s, name, "value", "join store "+thisStore)
	need(b, v2s, name, "value", "join store "+otherStore)
	addFn(b, lw, lp, func(ctx topology.ProcessorContext[K, joinSide[V1, V2]], rec topology.Record[K, V1]) error {
		return ctx.Forward(topology.Record[K, joinSide[V1, V2]]{Key: rec.Key, Value: joinSide[V1, V2]{l: rec.Value},
			Timestamp: rec.Timestamp, Headers: rec.Headers, NullKey: rec.NullKey, NullValue: rec.NullValue})
	})
	addFn(b, rw, rp, func(ctx topology.ProcessorContext[K, joinSide[V1, V2]], rec topology.Record[K, V2]) error {
		return ctx.Forward(topology.Record[K, joinSide[V1, V2]]{Key: rec.Key, Value: joinSide[V1, V2]{r: rec.Value, right: true},
			Timestamp: rec.Timestamp, Headers: rec.Headers, NullKey: rec.NullKey, NullValue: rec.NullValue})
	})
	win := w
	topology.AddProcessor(b.tb, name, func() topology.Processor[K, joinSide[V1, V2], K, VR] {
		return &streamJoiner[K, V1, V2, VR]{kind: kind, fn: fn, ks: ks, v1s: v1s, v2s: v2s,
			before: win.Before.Milliseconds(), after: win.After.Milliseconds(), grace: win.Grace.Milliseconds(),
			stores: [3]string{thisStore, otherStore, outerStore}}
	}, lw, rw)
	retention := w.Before + w.After + w.Grace + time.Millisecond // +1ms: the oldest start a join still needs is kept
	for _, st := range []string{thisStore, otherStore} {
		spec := o.spec(st)
		spec.Kind, spec.Caching, spec.RetainDuplicates = state.KindWindow, false, true
		spec.WindowSize, spec.Retention = w.Before+w.After, retention
		b.tb.AddStateStore(spec, name)
	}
	if outerStore != "" {
		spec := o.spec(outerStore)
		spec.Caching = false
		b.tb.AddStateStore(spec, name)
	}
	b.tb.AddCoPartitionGroup(name)
	return KStream[K, VR]{b: b, node: name, keySerde: ks, valueSerde: defaultSerde[VR](b)}
}

// streamJoiner joins both sides in one processor. Each side's records are
// kept in a window store with duplicates; records of left and outer joins
// that found no partner wait in the outer store, keyed by (timestamp,
// side, key), until no partner can arrive any more.
type streamJoiner[K, V1, V2, VR any] struct {
	kind                 joinKind
	fn                   joinFn[V1, V2, VR]
	ks                   serde.Serde[K]
	v1s                  serde.Serde[V1]
	v2s                  serde.Serde[V2]
	before, after, grace int64
	stores               [3]string
	ctx                  topology.ProcessorContext[K, VR]
	left, right          state.WindowStore
	outer                state.KeyValueStore
	time                 streamTime
	// minOuter is a lower bound of the timestamps in the outer store
	// (math.MaxInt64: the store is empty; math.MinInt64: not known yet,
	// as after a restart). As Kafka Streams' sharedTimeTracker.minTime,
	// it spares the scan of the outer store while nothing in it can be
	// due, and a scan starts at it, past the deleted entries below it
	// that an engine such as RocksDB would otherwise step over one by one.
	minOuter int64
	// leftIx and rightIx answer the probes of the window stores, mirror
	// the reads of the outer store, when they can (join_index.go); nil:
	// the store is read.
	leftIx, rightIx *joinIndex
	mirror          *outerMirror
	matches         []match
}

// match is a partner found by a probe.
type match struct {
	ts int64
	v  []byte
}

func (p *streamJoiner[K, V1, V2, VR]) Init(ctx topology.ProcessorContext[K, VR]) error {
	p.ctx = ctx
	p.time = resumeStreamTime(ctx)
	p.minOuter = math.MinInt64
	var err error
	if p.left, err = openWindowStore(ctx, p.stores[0]); err != nil {
		return err
	}
	if p.right, err = openWindowStore(ctx, p.stores[1]); err != nil {
		return err
	}
	if p.stores[2] != "" {
		kv, err := openKV(ctx, p.stores[2], serde.Bytes(), serde.Bytes())
		if err != nil {
			return err
		}
		p.outer = kv.s
	}
	p.leftIx, p.rightIx = newJoinIndex(p.left, joinIndexMaxBytes), newJoinIndex(p.right, joinIndexMaxBytes)
	if p.outer != nil && outerMirrorMaxBytes > 0 {
		return p.loadMirror()
	}
	return nil
}

// loadMirror reads the keys of the outer store into the mirror; past the
// mirror's budget the outer store is scanned instead.
func (p *streamJoiner[K, V1, V2, VR]) loadMirror() error {
	it, err := p.outer.All()
	if err != nil {
		return fmt.Errorf("read outer join store %s: %w", p.stores[2], err)
	}
	m := newOuterMirror()
	for it.Next() {
		k := it.Key()
		if len(k) < 9 {
			it.Close()
			return fmt.Errorf("stream: outer join store %s holds a %d-byte key", p.stores[2], len(k))
		}
		if !m.add(outerEnt{ts: outerTimeOf(k), right: k[8] == outerSideRight, key: string(k[9:])}) {
			m = nil
			break
		}
	}
	if err := errors.Join(it.Err(), it.Close()); err != nil {
		return fmt.Errorf("read outer join store %s: %w", p.stores[2], err)
	}
	p.mirror = m
	return nil
}

// The side byte of outer-store keys: at equal timestamps right-side
// records sort, and are emitted, before left-side ones, as in Kafka
// Streams' TimestampedKeyAndJoinSide.
const (
	outerSideRight byte = 0
	outerSideLeft  byte = 1
)

func outerKey(ts int64, right bool, kb []byte) []byte {
	k := binary.BigEndian.AppendUint64(make([]byte, 0, 9+len(kb)), uint64(ts)^(1<<63))
	side := outerSideLeft
	if right {
		side = outerSideRight
	}
	return append(append(k, side), kb...)
}

// outerTimeOf is the timestamp an outer-store key starts with.
func outerTimeOf(k []byte) int64 { return int64(binary.BigEndian.Uint64(k) ^ (1 << 63)) }

func (p *streamJoiner[K, V1, V2, VR]) Process(rec topology.Record[K, joinSide[V1, V2]]) error {
	ts, isRight := ms(rec.Timestamp), rec.Value.right
	// Every record advances the join's stream time, even one dropped for
	// its null key or value, as in Kafka Streams.
	now := p.time.observe(ts)
	if rec.NullKey && !rec.NullValue && (p.kind == outerJoin || (p.kind == leftJoin && !isRight)) {
		// A null key can join nothing: left and outer joins emit it alone
		// at once, as Kafka Streams does.
		var l V1
		var r V2
		if isRight {
			r = rec.Value.r
		} else {
			l = rec.Value.l
		}
		return p.ctx.Forward(topology.Record[K, VR]{NullKey: true, Value: p.fn(l, !isRight, r, isRight), Timestamp: rec.Timestamp, Headers: rec.Headers})
	}
	if rec.NullKey || rec.NullValue {
		p.ctx.RecordDropped("null-key-or-value")
		return nil
	}
	if p.closed(ts, isRight, now) {
		end := ts + p.after
		if isRight {
			end = ts + p.before
		}
		dropLate(p.ctx, ts, end, now-p.grace)
		return nil
	}
	if p.leftIx != nil {
		p.leftIx.evict(func(ts int64) bool { return p.closed(ts, false, now) })
	}
	if p.rightIx != nil {
		p.rightIx.evict(func(ts int64) bool { return p.closed(ts, true, now) })
	}
	if err := p.emitExpired(now); err != nil {
		return err
	}
	kb, err := p.ks.Serialize(p.stores[0], nil, rec.Key)
	if err != nil {
		return fmt.Errorf("serialize key for join store %s: %w", p.stores[0], err)
	}
	this, other, from, to := p.left, p.right, ts-p.before, ts+p.after
	var vb []byte
	if isRight {
		this, other, from, to = p.right, p.left, ts-p.after, ts+p.before
		vb, err = p.v2s.Serialize(p.stores[1], nil, rec.Value.r)
	} else {
		vb, err = p.v1s.Serialize(p.stores[0], nil, rec.Value.l)
	}
	if err != nil {
		return fmt.Errorf("serialize value for join store: %w", err)
	}
	if err := this.Put(kb, vb, ts); err != nil {
		return fmt.Errorf("put into join store: %w", err)
	}
	thisIx, otherIx := p.leftIx, p.rightIx
	if isRight {
		thisIx, otherIx = p.rightIx, p.leftIx
	}
	if thisIx != nil {
		thisIx.put(kb, vb, ts)
	}
	matches, err := p.probe(other, otherIx, kb, max(0, from), max(0, to), !isRight, now)
	if err != nil {
		return err
	}
	for _, m := range matches {
		out := topology.Record[K, VR]{Key: rec.Key, Timestamp: msTime(max(ts, m.ts)), Headers: rec.Headers}
		if isRight {
			l, err := p.v1s.Deserialize(p.stores[0], nil, m.v)
			if err != nil {
				return fmt.Errorf("deserialize from join store %s: %w", p.stores[0], err)
			}
			out.Value = p.fn(l, true, rec.Value.r, true)
		} else {
			r, err := p.v2s.Deserialize(p.stores[1], nil, m.v)
			if err != nil {
				return fmt.Errorf("deserialize from join store %s: %w", p.stores[1], err)
			}
			out.Value = p.fn(rec.Value.l, true, r, true)
		}
		// The partner may be waiting as a non-joined record: it has
		// joined now, so it must never be emitted alone. With the mirror,
		// a partner not waiting costs nothing, as Kafka Streams' delete
		// (putIfAbsent with null) writes nothing then.
		if p.outer != nil && (p.mirror == nil || p.mirror.remove(outerEnt{ts: m.ts, right: !isRight, key: string(kb)})) {
			if _, err := p.outer.Delete(outerKey(m.ts, !isRight, kb)); err != nil {
				return fmt.Errorf("delete from outer join store %s: %w", p.stores[2], err)
			}
		}
		if err := p.ctx.Forward(out); err != nil {
			return err
		}
	}
	if len(matches) == 0 && p.outer != nil && (!isRight || p.kind == outerJoin) {
		if err := p.outer.Put(outerKey(ts, isRight, kb), vb); err != nil {
			return fmt.Errorf("put into outer join store %s: %w", p.stores[2], err)
		}
		p.minOuter = min(p.minOuter, ts)
		if p.mirror != nil && !p.mirror.add(outerEnt{ts: ts, right: isRight, key: string(kb)}) {
			// Past its budget: the outer store is scanned from now on,
			// from its start once.
			p.mirror, p.minOuter = nil, math.MinInt64
		}
	}
	return nil
}

// probe returns the records of the other side's store under kb with
// timestamps in [from, to] whose windows are still open at now, from the
// index when it can answer, else from the store. The result is valid until
// the next call.
func (p *streamJoiner[K, V1, V2, VR]) probe(other state.WindowStore, ix *joinIndex, kb []byte, from, to int64, right bool, now int64) ([]match, error) {
	dead := func(ts int64) bool { return p.closed(ts, right, now) }
	if ix != nil {
		if recs, ok := ix.probe(kb, from, to, dead); ok {
			// The values are copied out, into one block, as the store's
			// would be: a deserializer may return them as they are
			// (serde.Bytes) to the joiner, which may keep or change them.
			n := 0
			for _, r := range recs {
				n += len(r.v)
			}
			buf := make([]byte, 0, n)
			out := p.matches[:0]
			for _, r := range recs {
				var v []byte // nil for an empty value, as the store's copy
				if len(r.v) > 0 {
					buf = append(buf, r.v...)
					v = buf[len(buf)-len(r.v) : len(buf) : len(buf)]
				}
				out = append(out, match{ts: r.ts, v: v})
			}
			p.matches = out
			return out, nil
		}
	}
	it, err := other.FetchRange(kb, from, to)
	if err != nil {
		return nil, fmt.Errorf("fetch from join store: %w", err)
	}
	out := p.matches[:0]
	for it.Next() {
		if !dead(it.WindowStart()) {
			out = append(out, match{it.WindowStart(), append([]byte(nil), it.Value()...)})
		}
	}
	if err := errors.Join(it.Err(), it.Close()); err != nil {
		return nil, fmt.Errorf("fetch from join store: %w", err)
	}
	p.matches = out
	return out, nil
}

// emitExpired emits, in timestamp order, the non-joined records whose
// join window has closed: t+After+Grace for a left record, t+Before+Grace
// for a right one, as Kafka Streams does. Joins never pair a record with a
// partner whose window has closed, so an emitted record never joins later.
func (p *streamJoiner[K, V1, V2, VR]) emitExpired(now int64) error {
	if p.mirror != nil {
		return p.emitMirrored(now)
	}
	if p.outer == nil || !p.outerMayBeDue(now) {
		return nil
	}
	var it state.KeyValueIterator
	var err error
	if p.minOuter == math.MinInt64 {
		it, err = p.outer.All()
	} else {
		// Every entry's key is at or above the lowest key of minOuter.
		it, err = p.outer.Range(outerKey(p.minOuter, true, nil), nil)
	}
	if err != nil {
		return fmt.Errorf("read outer join store %s: %w", p.stores[2], err)
	}
	var due []state.KeyValue
	var leftOpen, rightOpen bool
	p.minOuter = math.MaxInt64
	for it.Next() && !(leftOpen && rightOpen) {
		k := it.Key()
		if len(k) < 9 {
			it.Close()
			p.minOuter = math.MinInt64
			return fmt.Errorf("stream: outer join store %s holds a %d-byte key", p.stores[2], len(k))
		}
		if !p.closed(outerTimeOf(k), k[8] == outerSideRight, now) {
			// Entries are in timestamp order: this side has nothing more
			// to emit, the other side may. The first entry left is the
			// lowest timestamp that stays.
			p.minOuter = min(p.minOuter, outerTimeOf(k))
			leftOpen, rightOpen = leftOpen || k[8] == outerSideLeft, rightOpen || k[8] == outerSideRight
			continue
		}
		due = append(due, state.KeyValue{Key: append([]byte(nil), k...), Value: append([]byte(nil), it.Value()...)})
	}
	if err := errors.Join(it.Err(), it.Close()); err != nil {
		p.minOuter = math.MinInt64
		return fmt.Errorf("read outer join store %s: %w", p.stores[2], err)
	}
	for _, e := range due {
		if _, err := p.outer.Delete(e.Key); err != nil {
			return fmt.Errorf("delete from outer join store %s: %w", p.stores[2], err)
		}
		if err := p.emitNonJoined(e.Key[9:], outerTimeOf(e.Key), e.Key[8] == outerSideRight, e.Value); err != nil {
			return err
		}
	}
	return nil
}

// emitMirrored is emitExpired when the mirror knows the outer store's
// keys: the due entries are taken from it in the store's order, and only
// they are read from the store (by the delete that removes them).
func (p *streamJoiner[K, V1, V2, VR]) emitMirrored(now int64) error {
	// closed(ts, side, now) is ts+reach+grace < now: ts < cut.
	cutLeft, cutRight := now-p.after-p.grace, now-p.before-p.grace
	for {
		e, ok := p.mirror.popDue(cutLeft, cutRight)
		if !ok {
			return nil
		}
		kb := []byte(e.key)
		v, err := p.outer.Delete(outerKey(e.ts, e.right, kb))
		if err != nil {
			return fmt.Errorf("delete from outer join store %s: %w", p.stores[2], err)
		}
		if v == nil {
			return fmt.Errorf("stream: outer join store %s lost the entry of a non-joined record at %d", p.stores[2], e.ts)
		}
		if err := p.emitNonJoined(kb, e.ts, e.right, v); err != nil {
			return err
		}
	}
}

// emitNonJoined forwards the record of key kb at ts that found no partner.
func (p *streamJoiner[K, V1, V2, VR]) emitNonJoined(kb []byte, ts int64, right bool, v []byte) error {
	k, err := p.ks.Deserialize(p.stores[2], nil, kb)
	if err != nil {
		return fmt.Errorf("deserialize key from outer join store %s: %w", p.stores[2], err)
	}
	out := topology.Record[K, VR]{Key: k, Timestamp: msTime(ts)}
	var l V1
	var r V2
	if right {
		if r, err = p.v2s.Deserialize(p.stores[2], nil, v); err != nil {
			return fmt.Errorf("deserialize from outer join store %s: %w", p.stores[2], err)
		}
		out.Value = p.fn(l, false, r, true)
	} else {
		if l, err = p.v1s.Deserialize(p.stores[2], nil, v); err != nil {
			return fmt.Errorf("deserialize from outer join store %s: %w", p.stores[2], err)
		}
		out.Value = p.fn(l, true, r, false)
	}
	return p.ctx.Forward(out)
}

// outerMayBeDue reports whether the outer store may hold an entry whose
// window has closed at stream time now.
func (p *streamJoiner[K, V1, V2, VR]) outerMayBeDue(now int64) bool {
	switch p.minOuter {
	case math.MaxInt64:
		return false
	case math.MinInt64:
		return true
	}
	// A left join keeps left records only; an outer join both sides, and
	// the side that closes first decides.
	reach := p.after
	if p.kind == outerJoin {
		reach = min(p.after, p.before)
	}
	return p.minOuter+reach+p.grace < now
}

// closed reports whether the join window of a record at ts has closed: a
// left record's window reaches After past it, a right record's Before, and
// stays open for Grace more.
func (p *streamJoiner[K, V1, V2, VR]) closed(ts int64, right bool, now int64) bool {
	reach := p.after
	if right {
		reach = p.before
	}
	return ts+reach+p.grace < now
}

func (p *streamJoiner[K, V1, V2, VR]) Close() error { return nil }
