package stream

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"

	"github.com/kafki/kafki/serde"
	"github.com/kafki/kafki/topology"
)

// JoinForeignKey joins each row of the left table with the row of the
// right table whose key fk extracts from the left value (Kafka Streams'
// foreign-key join): the result, keyed like the left table, is
// joiner(left, right) and follows updates on both sides; a left row whose
// foreign key has no right row has no result (a tombstone removes an
// earlier one).
//
// Left rows subscribe to their foreign key through a repartition topic
// partitioned like the right table ("<name>-subscription-registration");
// answers come back through one partitioned like the left table
// ("<name>-subscription-response"). An answer computed for an older left
// value is recognised by a hash of that value and dropped, so results
// never go back in time. Both tables must be materialised.
//
// TableJoined names the join (its topics and stores); Materialized
// materialises the result.
func JoinForeignKey[K, V, KO, VO, VR any](l KTable[K, V], r KTable[KO, VO], fk func(V) KO, joiner func(V, VO) VR, opts ...FKJoinOption[K, VR]) KTable[K, VR] {
	var fn joinFn[V, VO, VR]
	if joiner != nil {
		fn = func(v V, _ bool, o VO, _ bool) VR { return joiner(v, o) }
	}
	return fkJoin(l, r, fk, innerJoin, fn, fkOpts(opts))
}

// LeftJoinForeignKey is JoinForeignKey that keeps every left row:
// joiner(left, nil) while its foreign key has no right row.
func LeftJoinForeignKey[K, V, KO, VO, VR any](l KTable[K, V], r KTable[KO, VO], fk func(V) KO, joiner func(V, *VO) VR, opts ...FKJoinOption[K, VR]) KTable[K, VR] {
	var fn joinFn[V, VO, VR]
	if joiner != nil {
		fn = func(v V, _ bool, o VO, hasO bool) VR {
			if !hasO {
				return joiner(v, nil)
			}
			return joiner(v, &o)
		}
	}
	return fkJoin(l, r, fk, leftJoin, fn, fkOpts(opts))
}

// FKJoinOption configures a foreign-key join: a TableJoined[K, VR] names
// it, a Materialized[K, VR] materialises its result. Its method mentions
// K and VR so that only configurations of the join's own types fit.
type FKJoinOption[K, VR any] interface {
	fkJoinOption(K, VR) option
}

// TableJoined names a foreign-key join (Kafka Streams' TableJoined.as):
// its internal topics are "<name>-subscription-registration-topic" and
// "<name>-subscription-response-topic". K is the left table's key type
// and VR the result's value type.
type TableJoined[K, VR any] struct{ name string }

// TableJoinedAs names a foreign-key join.
func TableJoinedAs[K, VR any](name string) TableJoined[K, VR] { return TableJoined[K, VR]{name: name} }

func (t TableJoined[K, VR]) fkJoinOption(K, VR) option {
	return func(o *options) { o.name = t.name }
}

func (m Materialized[K, V]) fkJoinOption(K, V) option { return m.option() }

func fkOpts[K, VR any](opts []FKJoinOption[K, VR]) []option {
	out := make([]option, 0, len(opts))
	var k K
	var v VR
	for _, o := range opts {
		if o != nil {
			out = append(out, o.fkJoinOption(k, v))
		}
	}
	return out
}

// Subscription instructions, as Kafka Streams' SubscriptionWrapper.
const (
	subDeleteNoPropagate   byte = iota // the row moved to another key
	subDeleteAndPropagate              // the row was deleted: answer with a tombstone
	subPropagateNullIfNoFK             // answer even when the right row is missing
	subPropagateOnlyIfFK               // answer only when the right row exists
)

// subscription is a left row's registration with its foreign key.
type subscription struct {
	instr   byte
	hash    uint64 // of the left value's bytes; 0 when deleted
	primary []byte // the left row's key bytes
}

type subscriptionSerde struct{}

func (subscriptionSerde) Serialize(_ string, _ []serde.Header, s subscription) ([]byte, error) {
	out := binary.BigEndian.AppendUint64([]byte{s.instr}, s.hash)
	return append(out, s.primary...), nil
}

var errBadSubscription = errors.New("stream: malformed foreign-key join record")

func (subscriptionSerde) Deserialize(_ string, _ []serde.Header, b []byte) (subscription, error) {
	if len(b) < 9 || b[0] > subPropagateOnlyIfFK {
		return subscription{}, errBadSubscription
	}
	return subscription{instr: b[0], hash: binary.BigEndian.Uint64(b[1:9]), primary: append([]byte(nil), b[9:]...)}, nil
}

// fkResponse answers a subscription with the right row (or its absence)
// and the hash of the left value it was computed for.
type fkResponse[VO any] struct {
	hash     uint64
	value    VO
	hasValue bool
}

type fkResponseSerde[VO any] struct{ inner serde.Serde[VO] }

func (s fkResponseSerde[VO]) Serialize(topic string, h []serde.Header, r fkResponse[VO]) ([]byte, error) {
	out := binary.BigEndian.AppendUint64(nil, r.hash)
	if !r.hasValue {
		return append(out, 0), nil
	}
	vb, err := s.inner.Serialize(topic, h, r.value)
	if err != nil {
		return nil, err
	}
	return append(append(out, 1), vb...), nil
}

func (s fkResponseSerde[VO]) Deserialize(topic string, h []serde.Header, b []byte) (fkResponse[VO], error) {
	var r fkResponse[VO]
	if len(b) < 9 || b[8] > 1 {
		return r, errBadSubscription
	}
	r.hash, r.hasValue = binary.BigEndian.Uint64(b), b[8] == 1
	if r.hasValue {
		v, err := s.inner.Deserialize(topic, h, b[9:])
		if err != nil {
			return r, err
		}
		r.value = v
	}
	return r, nil
}

// valueHash identifies a left value; 0 is kept for "no value".
func valueHash(b []byte) uint64 {
	if b == nil {
		return 0
	}
	h := fnv.New64a()
	h.Write(b)
	if s := h.Sum64(); s != 0 {
		return s
	}
	return 1
}

// subscriptionKey orders subscriptions by foreign key, then primary key,
// so that a right update finds its subscribers with one prefix scan.
func subscriptionKey(fk, pk []byte) []byte {
	out := binary.BigEndian.AppendUint32(make([]byte, 0, 4+len(fk)+len(pk)), uint32(len(fk)))
	return append(append(out, fk...), pk...)
}

func fkJoin[K, V, KO, VO, VR any](l KTable[K, V], r KTable[KO, VO], fk func(V) KO, kind joinKind, fn joinFn[V, VO, VR], opts []option) KTable[K, VR] {
	b := l.b
	o := collect(opts)
	name := b.nameOr(o, "KTABLE-FK-JOIN-OUTPUT-")
	if fn == nil || fk == nil {
		b.problem(topologyInvalid("%q: nil joiner or foreign-key extractor", name))
	}
	for _, t := range []struct{ node, store string }{{l.node, l.store}, {r.node, r.store}} {
		if t.store == "" {
			b.problem(topologyInvalid("%q: the table %q is not materialised; give it a stream.MaterializedAs store name", name, t.node))
		}
	}
	need(b, l.keySerde, name, "key", "the left table's keys")
	need(b, l.valueSerde, name, "value", "the left table's values")
	need(b, r.keySerde, name, "key", "the foreign keys")
	need(b, r.valueSerde, name, "value", "the right table's values")
	base := o.name
	if base == "" {
		base = b.newName("KTABLE-FK-JOIN-")
	}
	subStore := base + "-subscription-store"
	lks, lvs, rks, rvs := l.keySerde, l.valueSerde, r.keySerde, r.valueSerde

	// Left side: register every left row with its foreign key.
	reg := b.newName("KTABLE-FK-JOIN-SUBSCRIPTION-REGISTRATION-")
	addFn(b, reg, l.node, func(ctx topology.ProcessorContext[KO, subscription], rec topology.Record[K, Change[V]]) error {
		pk, err := lks.Serialize(l.store, nil, rec.Key)
		if err != nil {
			return fmt.Errorf("serialize key for %s: %w", name, err)
		}
		c := rec.Value
		var newFK, oldFK []byte
		if c.HasNew {
			if newFK, err = rks.Serialize(subStore, nil, fk(c.New)); err != nil {
				return fmt.Errorf("serialize foreign key for %s: %w", name, err)
			}
		}
		if c.HasOld {
			if oldFK, err = rks.Serialize(subStore, nil, fk(c.Old)); err != nil {
				return fmt.Errorf("serialize foreign key for %s: %w", name, err)
			}
		}
		send := func(key KO, s subscription) error {
			s.primary = pk
			return ctx.Forward(topology.Record[KO, subscription]{Key: key, Value: s, Timestamp: rec.Timestamp, Headers: rec.Headers})
		}
		moved := c.HasOld && (!c.HasNew || string(oldFK) != string(newFK))
		if !c.HasNew {
			if !c.HasOld {
				return nil
			}
			return send(fk(c.Old), subscription{instr: subDeleteAndPropagate})
		}
		if moved {
			if err := send(fk(c.Old), subscription{instr: subDeleteNoPropagate}); err != nil {
				return err
			}
		}
		vb, err := lvs.Serialize(l.store, nil, c.New)
		if err != nil {
			return fmt.Errorf("serialize value for %s: %w", name, err)
		}
		instr := subPropagateNullIfNoFK
		if kind == innerJoin && !moved {
			// Same foreign key (or a new row): no earlier result can need
			// retracting, so a missing right row needs no answer.
			instr = subPropagateOnlyIfFK
		}
		return send(fk(c.New), subscription{instr: instr, hash: valueHash(vb)})
	})
	subSrc := repartitionThrough(b, reg, base+"-subscription-registration", rks, serde.Serde[subscription](subscriptionSerde{}), 0, false)

	// Right side: keep the subscriptions; answer them on registration and
	// on every right update.
	subProc := b.newName("KTABLE-FK-JOIN-SUBSCRIPTION-PROCESSOR-")
	rstore := r.store
	topology.AddProcessor(b.tb, subProc, func() topology.Processor[KO, subscription, K, fkResponse[VO]] {
		return &subscriptionProcessor[K, KO, VO]{subStore: subStore, rstore: rstore, lks: lks, rks: rks, rvs: rvs}
	}, subSrc)
	upd := b.newName("KTABLE-FK-JOIN-SUBSCRIPTION-RESPONSE-")
	topology.AddProcessor(b.tb, upd, func() topology.Processor[KO, Change[VO], K, fkResponse[VO]] {
		return &rightUpdateProcessor[K, KO, VO]{subStore: subStore, lks: lks, rks: rks}
	}, r.node)
	b.tb.ConnectProcessorAndStateStores([]string{subProc}, rstore)
	subSpec := o.spec(subStore)
	subSpec.Caching = false
	b.tb.AddStateStore(subSpec, subProc, upd)
	b.tb.AddCoPartitionGroup(subProc, upd)
	merge := b.newName("KTABLE-MERGE-")
	topology.AddProcessor(b.tb, merge, func() topology.Processor[K, fkResponse[VO], K, fkResponse[VO]] {
		return &fnProc[K, fkResponse[VO], K, fkResponse[VO]]{fn: func(ctx topology.ProcessorContext[K, fkResponse[VO]], rec topology.Record[K, fkResponse[VO]]) error {
			return ctx.Forward(rec)
		}}
	}, subProc, upd)
	respSrc := repartitionThrough(b, merge, base+"-subscription-response", lks, serde.Serde[fkResponse[VO]](fkResponseSerde[VO]{inner: rvs}), 0, false)

	// Back on the left: drop stale answers, join the current left row.
	resolver := b.newName("KTABLE-FK-JOIN-SUBSCRIPTION-RESOLVER-")
	lstore := l.store
	topology.AddProcessor(b.tb, resolver, func() topology.Processor[K, fkResponse[VO], K, Change[VR]] {
		return &fkResolver[K, V, VO, VR]{lstore: lstore, lks: lks, lvs: lvs, kind: kind, fn: fn}
	}, respSrc)
	b.tb.ConnectProcessorAndStateStores([]string{resolver}, lstore)
	b.tb.AddCoPartitionGroup(resolver, l.node)

	vs := serdeOf[VR](b, o.valueSerde, nil, name, "value")
	out := KTable[K, VR]{b: b, node: name, store: o.storeName, keySerde: lks, valueSerde: vs}
	if o.storeName == "" {
		addFn(b, name, resolver, func(ctx topology.ProcessorContext[K, Change[VR]], rec topology.Record[K, Change[VR]]) error {
			return ctx.Forward(rec)
		})
		return out
	}
	need(b, vs, name, "value", "store "+o.storeName)
	spec := o.spec(o.storeName)
	topology.AddProcessor(b.tb, name, func() topology.Processor[K, Change[VR], K, Change[VR]] {
		return &materializedMap[K, VR, VR]{emit: tableEmitter[K, VR]{store: o.storeName, caching: spec.Caching, ks: lks, vs: vs},
			fn: func(_ K, c Change[VR]) (Change[VR], bool) { return c, true }}
	}, resolver)
	b.tb.AddStateStore(spec, name)
	return out
}
