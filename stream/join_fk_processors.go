package stream

import (
	"errors"
	"fmt"

	"github.com/kafki/kafki/serde"
	"github.com/kafki/kafki/state"
	"github.com/kafki/kafki/topology"
)

// subscriptionProcessor keeps the subscriptions of one partition of the
// right table and answers each with the right row it subscribes to.
type subscriptionProcessor[K, KO, VO any] struct {
	subStore, rstore string
	lks              serde.Serde[K]
	rks              serde.Serde[KO]
	rvs              serde.Serde[VO]
	ctx              topology.ProcessorContext[K, fkResponse[VO]]
	subs             state.KeyValueStore
	right            kvStore[KO, VO]
}

func (p *subscriptionProcessor[K, KO, VO]) Init(ctx topology.ProcessorContext[K, fkResponse[VO]]) error {
	p.ctx = ctx
	subs, err := openKV(ctx, p.subStore, serde.Bytes(), serde.Bytes())
	if err != nil {
		return err
	}
	p.subs = subs.s
	p.right, err = openTableKV(ctx, p.rstore, p.rks, p.rvs)
	return err
}

func (p *subscriptionProcessor[K, KO, VO]) Process(rec topology.Record[KO, subscription]) error {
	if rec.NullKey || rec.NullValue {
		p.ctx.RecordDropped("null-key-or-value")
		return nil
	}
	s := rec.Value
	fk, err := p.right.keyBytes(rec.Key)
	if err != nil {
		return fmt.Errorf("serialize foreign key for %s: %w", p.subStore, err)
	}
	key := subscriptionKey(fk, s.primary)
	// As Kafka Streams' SubscriptionJoinProcessorSupplier: an answer
	// carries the later of the subscription's and the right row's
	// timestamps.
	v, rts, has, err := p.right.getWithTime(fk)
	if err != nil {
		return fmt.Errorf("look up in %s: %w", p.rstore, err)
	}
	if has {
		rec.Timestamp = msTime(max(ms(rec.Timestamp), rts))
	}
	switch s.instr {
	case subDeleteNoPropagate, subDeleteAndPropagate:
		if _, err := p.subs.Delete(key); err != nil {
			return fmt.Errorf("delete from %s: %w", p.subStore, err)
		}
		if s.instr == subDeleteNoPropagate {
			return nil
		}
		return p.answer(s.primary, fkResponse[VO]{}, rec)
	}
	sb, err := subscriptionSerde{}.Serialize("", nil, subscription{instr: s.instr, hash: s.hash})
	if err != nil {
		return err
	}
	if err := p.subs.Put(key, sb); err != nil {
		return fmt.Errorf("write %s: %w", p.subStore, err)
	}
	if !has && s.instr == subPropagateOnlyIfFK {
		return nil
	}
	return p.answer(s.primary, fkResponse[VO]{hash: s.hash, value: v, hasValue: has}, rec)
}

func (p *subscriptionProcessor[K, KO, VO]) answer(pk []byte, r fkResponse[VO], rec topology.Record[KO, subscription]) error {
	k, err := p.lks.Deserialize(p.subStore, nil, pk)
	if err != nil {
		return fmt.Errorf("deserialize primary key in %s: %w", p.subStore, err)
	}
	return p.ctx.Forward(topology.Record[K, fkResponse[VO]]{Key: k, Value: r, Timestamp: rec.Timestamp, Headers: rec.Headers})
}

func (p *subscriptionProcessor[K, KO, VO]) Close() error { return nil }

// rightUpdateProcessor answers every subscriber of a right row that
// changed.
type rightUpdateProcessor[K, KO, VO any] struct {
	subStore string
	lks      serde.Serde[K]
	rks      serde.Serde[KO]
	ctx      topology.ProcessorContext[K, fkResponse[VO]]
	subs     state.KeyValueStore
}

func (p *rightUpdateProcessor[K, KO, VO]) Init(ctx topology.ProcessorContext[K, fkResponse[VO]]) error {
	p.ctx = ctx
	subs, err := openKV(ctx, p.subStore, serde.Bytes(), serde.Bytes())
	p.subs = subs.s
	return err
}

func (p *rightUpdateProcessor[K, KO, VO]) Process(rec topology.Record[KO, Change[VO]]) error {
	if rec.NullKey {
		return nil
	}
	fk, err := p.rks.Serialize(p.subStore, nil, rec.Key)
	if err != nil {
		return fmt.Errorf("serialize foreign key for %s: %w", p.subStore, err)
	}
	prefix := subscriptionKey(fk, nil)
	it, err := p.subs.PrefixScan(prefix)
	if err != nil {
		return fmt.Errorf("scan %s: %w", p.subStore, err)
	}
	type sub struct {
		pk   []byte
		hash uint64
	}
	var subs []sub
	for it.Next() {
		s, err := subscriptionSerde{}.Deserialize("", nil, it.Value())
		if err != nil {
			it.Close()
			return fmt.Errorf("decode %s: %w", p.subStore, err)
		}
		subs = append(subs, sub{pk: append([]byte(nil), it.Key()[len(prefix):]...), hash: s.hash})
	}
	if err := errors.Join(it.Err(), it.Close()); err != nil {
		return fmt.Errorf("scan %s: %w", p.subStore, err)
	}
	for _, s := range subs {
		k, err := p.lks.Deserialize(p.subStore, nil, s.pk)
		if err != nil {
			return fmt.Errorf("deserialize primary key in %s: %w", p.subStore, err)
		}
		r := fkResponse[VO]{hash: s.hash, value: rec.Value.New, hasValue: rec.Value.HasNew}
		if err := p.ctx.Forward(topology.Record[K, fkResponse[VO]]{Key: k, Value: r, Timestamp: rec.Timestamp, Headers: rec.Headers}); err != nil {
			return err
		}
	}
	return nil
}

func (p *rightUpdateProcessor[K, KO, VO]) Close() error { return nil }

// fkResolver joins answers with the current left row, dropping answers
// computed for a left value that has changed since.
type fkResolver[K, V, VO, VR any] struct {
	lstore string
	lks    serde.Serde[K]
	lvs    serde.Serde[V]
	kind   joinKind
	fn     joinFn[V, VO, VR]
	ctx    topology.ProcessorContext[K, Change[VR]]
	left   kvStore[K, V]
}

func (p *fkResolver[K, V, VO, VR]) Init(ctx topology.ProcessorContext[K, Change[VR]]) error {
	p.ctx = ctx
	kv, err := openTableKV(ctx, p.lstore, p.lks, p.lvs)
	p.left = kv
	return err
}

func (p *fkResolver[K, V, VO, VR]) Process(rec topology.Record[K, fkResponse[VO]]) error {
	if rec.NullKey || rec.NullValue {
		p.ctx.RecordDropped("null-key-or-value")
		return nil
	}
	kb, err := p.left.keyBytes(rec.Key)
	if err != nil {
		return fmt.Errorf("serialize key for %s: %w", p.lstore, err)
	}
	vb, err := p.left.s.Get(kb)
	if err != nil {
		return fmt.Errorf("look up in %s: %w", p.lstore, err)
	}
	if vb != nil {
		// The hash is of the value's bytes, without the row's timestamp.
		if _, vb, err = state.DecodeTimestamped(vb); err != nil {
			return fmt.Errorf("look up in %s: %w", p.lstore, err)
		}
	}
	r := rec.Value
	if valueHash(vb) != r.hash {
		return nil // answers an older left value: a newer answer follows
	}
	out := topology.Record[K, Change[VR]]{Key: rec.Key, Timestamp: rec.Timestamp, Headers: rec.Headers}
	if vb != nil && (r.hasValue || p.kind == leftJoin) {
		v, err := p.lvs.Deserialize(p.lstore, nil, vb)
		if err != nil {
			return fmt.Errorf("deserialize value of %s: %w", p.lstore, err)
		}
		out.Value = Change[VR]{New: p.fn(v, true, r.value, r.hasValue), HasNew: true}
	}
	return p.ctx.Forward(out)
}

func (p *fkResolver[K, V, VO, VR]) Close() error { return nil }
