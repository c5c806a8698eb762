package avro_test

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/twmb/franz-go/pkg/sr"

	"github.com/kafki/kafki/serde"
	"github.com/kafki/kafki/serde/avro"
)

// memRegistry is an in-memory registry: ids per distinct schema text,
// versions per subject. No compatibility checks.
type memRegistry struct {
	mu       sync.Mutex
	byID     map[int]sr.Schema
	ids      map[string]int
	subjects map[string][]int
	calls    int
}

func newMem() *memRegistry {
	return &memRegistry{byID: map[int]sr.Schema{}, ids: map[string]int{}, subjects: map[string][]int{}}
}

func (m *memRegistry) Register(_ context.Context, subject string, s sr.Schema) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.calls++
	id, ok := m.ids[s.Schema]
	if !ok {
		id = len(m.ids) + 1
		m.ids[s.Schema] = id
		m.byID[id] = s
	}
	for _, v := range m.subjects[subject] {
		if v == id {
			return id, nil
		}
	}
	m.subjects[subject] = append(m.subjects[subject], id)
	return id, nil
}

func (m *memRegistry) Lookup(_ context.Context, subject string, s sr.Schema) (sr.SubjectSchema, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.calls++
	id, ok := m.ids[s.Schema]
	if ok {
		for i, v := range m.subjects[subject] {
			if v == id {
				return sr.SubjectSchema{Subject: subject, ID: id, Version: i + 1, Schema: s}, nil
			}
		}
	}
	return sr.SubjectSchema{}, &sr.ResponseError{StatusCode: 404, ErrorCode: 40403, Message: "Schema not found"}
}

func (m *memRegistry) SchemaByID(_ context.Context, id int) (sr.Schema, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.calls++
	s, ok := m.byID[id]
	if !ok {
		return sr.Schema{}, &sr.ResponseError{StatusCode: 404, ErrorCode: 40403, Message: fmt.Sprintf("Schema %d not found", id)}
	}
	return s, nil
}

const orderV1 = `{"type":"record","name":"Order","namespace":"shop","fields":[
	{"name":"id","type":"string"},
	{"name":"qty","type":"int"},
	{"name":"price","type":"double"}]}`

// V2 adds a field with a default and widens qty to long.
const orderV2 = `{"type":"record","name":"Order","namespace":"shop","fields":[
	{"name":"id","type":"string"},
	{"name":"qty","type":"long"},
	{"name":"price","type":"double"},
	{"name":"note","type":"string","default":"none"},
	{"name":"tags","type":{"type":"array","items":"string"},"default":[]}]}`

// V3 removes price.
const orderV3 = `{"type":"record","name":"Order","namespace":"shop","fields":[
	{"name":"id","type":"string"},
	{"name":"qty","type":"long"},
	{"name":"note","type":"string","default":"none"}]}`

// Bad adds a field without a default: cannot read V1 data.
const orderBad = `{"type":"record","name":"Order","namespace":"shop","fields":[
	{"name":"id","type":"string"},
	{"name":"qty","type":"int"},
	{"name":"price","type":"double"},
	{"name":"region","type":"string"}]}`

type OrderV1 struct {
	ID    string  `avro:"id"`
	Qty   int32   `avro:"qty"`
	Price float64 `avro:"price"`
}

type OrderV2 struct {
	ID    string   `avro:"id"`
	Qty   int64    `avro:"qty"`
	Price float64  `avro:"price"`
	Note  string   `avro:"note"`
	Tags  []string `avro:"tags"`
}

type OrderV3 struct {
	ID   string `avro:"id"`
	Qty  int64  `avro:"qty"`
	Note string `avro:"note"`
}

// must panics on error: a failed setup step fails the test with a trace.
func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func TestRoundTripAndWireFormat(t *testing.T) {
	reg := newMem()
	s := must(avro.New[OrderV1](reg, orderV1))
	in := OrderV1{ID: "o-1", Qty: 3, Price: 2.5}
	b := must(s.Serialize("orders", nil, in))
	if b[0] != 0 || binary.BigEndian.Uint32(b[1:5]) != 1 {
		t.Fatalf("header = %x", b[:5])
	}
	// Avro binary: string "o-1" = len 3 zigzag 6, bytes; int 3 zigzag 6; double.
	if b[5] != 6 || string(b[6:9]) != "o-1" || b[9] != 6 || len(b) != 5+1+3+1+8 {
		t.Fatalf("payload = %x", b[5:])
	}
	out := must(s.Deserialize("orders", nil, b))
	if out != in {
		t.Fatalf("round trip %+v -> %+v", in, out)
	}
	if got := reg.subjects["orders-value"]; len(got) != 1 {
		t.Fatalf("subjects = %v", reg.subjects)
	}
	// The id is cached: more records do not call the registry again.
	calls := reg.calls
	for i := 0; i < 10; i++ {
		b = must(s.Serialize("orders", nil, in))
		_ = must(s.Deserialize("orders", nil, b))
	}
	if reg.calls != calls {
		t.Fatalf("registry called %d more times", reg.calls-calls)
	}
}

func TestEvolution(t *testing.T) {
	reg := newMem()
	w1 := must(avro.New[OrderV1](reg, orderV1))
	w2 := must(avro.New[OrderV2](reg, orderV2))
	w3 := must(avro.New[OrderV3](reg, orderV3))

	b1 := must(w1.Serialize("orders", nil, OrderV1{ID: "a", Qty: 7, Price: 1.25}))
	b2 := must(w2.Serialize("orders", nil, OrderV2{ID: "b", Qty: 1 << 40, Price: 2, Note: "rush", Tags: []string{"x"}}))
	b3 := must(w3.Serialize("orders", nil, OrderV3{ID: "c", Qty: 9, Note: "late"}))

	// New reader, old data: added fields get their defaults, int widens.
	got2 := must(w2.Deserialize("orders", nil, b1))
	if got2.ID != "a" || got2.Qty != 7 || got2.Price != 1.25 || got2.Note != "none" || len(got2.Tags) != 0 {
		t.Fatalf("v1 read as v2: %+v", got2)
	}
	// Old reader, new data (forward): the extra fields are skipped.
	got3 := must(w3.Deserialize("orders", nil, b2))
	if got3.ID != "b" || got3.Qty != 1<<40 || got3.Note != "rush" {
		t.Fatalf("v2 read as v3: %+v", got3)
	}
	// Removed field: v3 data read with v2 gets price... no default: error.
	_, err := w2.Deserialize("orders", nil, b3)
	if !errors.Is(err, avro.ErrIncompatible) {
		t.Fatalf("v3 read as v2: err = %v", err)
	}
	// v1 data read by v3 (price removed, note added).
	got3 = must(w3.Deserialize("orders", nil, b1))
	if got3.ID != "a" || got3.Qty != 7 || got3.Note != "none" {
		t.Fatalf("v1 read as v3: %+v", got3)
	}

	// Generic reader with the newest schema.
	g := must(avro.New[map[string]any](reg, orderV2))
	m := must(g.Deserialize("orders", nil, b1))
	if m["id"] != "a" || m["qty"] != int64(7) || m["note"] != "none" {
		t.Fatalf("generic v1 read as v2: %#v", m)
	}
}

func TestIncompatibleErrorNamesSubjectIDAndField(t *testing.T) {
	reg := newMem()
	w1 := must(avro.New[OrderV1](reg, orderV1))
	bad := must(avro.New[map[string]any](reg, orderBad))
	b1 := must(w1.Serialize("orders", nil, OrderV1{ID: "a"}))
	_, err := bad.Deserialize("orders", nil, b1)
	if !errors.Is(err, avro.ErrIncompatible) {
		t.Fatalf("err = %v", err)
	}
	var se *avro.SchemaError
	if !errors.As(err, &se) || se.ID != 1 || se.Subject != "orders-value" {
		t.Fatalf("schema error = %#v", se)
	}
	var serr *serde.Error
	if !errors.As(err, &serr) || serr.Topic != "orders" {
		t.Fatalf("serde error = %#v", serr)
	}
	for _, want := range []string{`"orders-value"`, "id 1", "region"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	// The failure is cached, and stays an error.
	if _, err2 := bad.Deserialize("orders", nil, b1); !errors.Is(err2, avro.ErrIncompatible) {
		t.Fatal(err2)
	}
}

func TestGenericMapsRoundTrip(t *testing.T) {
	reg := newMem()
	g := must(avro.New[map[string]any](reg, orderV2))
	in := map[string]any{"id": "x", "qty": int64(2), "price": 3.5, "note": "n", "tags": []any{"a", "b"}}
	b := must(g.Serialize("orders", nil, in))
	out := must(g.Deserialize("orders", nil, b))
	if out["id"] != "x" || out["qty"] != int64(2) || out["price"] != 3.5 || len(out["tags"].([]any)) != 2 {
		t.Fatalf("out = %#v", out)
	}
	// A map missing a field cannot be encoded: error, not panic.
	if _, err := g.Serialize("orders", nil, map[string]any{"id": 1}); !errors.Is(err, serde.ErrUnsupported) {
		t.Fatalf("bad map err = %v", err)
	}
}

func TestSubjectStrategies(t *testing.T) {
	reg := newMem()
	k := must(avro.New[OrderV1](reg, orderV1, avro.Key()))
	rn := must(avro.New[OrderV1](reg, orderV1, avro.SubjectStrategy(avro.RecordNameStrategy)))
	trn := must(avro.New[OrderV1](reg, orderV1, avro.SubjectStrategy(avro.TopicRecordNameStrategy)))
	for _, s := range []*avro.Serde[OrderV1]{k, rn, trn} {
		_ = must(s.Serialize("orders", nil, OrderV1{ID: "a"}))
	}
	for _, subj := range []string{"orders-key", "shop.Order", "orders-shop.Order"} {
		if len(reg.subjects[subj]) != 1 {
			t.Errorf("subject %s not registered: %v", subj, reg.subjects)
		}
	}
	// Record-name strategies need a named schema.
	p := must(avro.New[string](reg, `"string"`, avro.SubjectStrategy(avro.RecordNameStrategy)))
	if _, err := p.Serialize("t", nil, "x"); err == nil {
		t.Fatal("record-name strategy accepted a primitive schema")
	}
	// Primitive schemas work with the topic strategy.
	ps := must(avro.New[string](reg, `"string"`))
	if v := must(ps.Deserialize("t", nil, must(ps.Serialize("t", nil, "héllo")))); v != "héllo" {
		t.Fatal(v)
	}
}

func TestAutoRegisterOff(t *testing.T) {
	reg := newMem()
	s := must(avro.New[OrderV1](reg, orderV1, avro.AutoRegister(false)))
	_, err := s.Serialize("orders", nil, OrderV1{})
	if !errors.Is(err, avro.ErrSchemaNotFound) || !strings.Contains(err.Error(), "orders-value") {
		t.Fatalf("err = %v", err)
	}
	_, _ = reg.Register(context.Background(), "orders-value", sr.Schema{Schema: orderV1})
	if _, err := s.Serialize("orders", nil, OrderV1{}); err != nil {
		t.Fatal(err)
	}
}

func TestBadBytes(t *testing.T) {
	reg := newMem()
	s := must(avro.New[OrderV1](reg, orderV1))
	good := must(s.Serialize("orders", nil, OrderV1{ID: "abc", Qty: 1}))
	cases := []struct {
		data []byte
		want error
	}{
		{nil, serde.ErrInvalidLength},
		{[]byte{0, 0, 0}, serde.ErrInvalidLength},
		{[]byte{1, 0, 0, 0, 1, 0}, serde.ErrInvalidData},
		{[]byte{0, 0, 0, 0, 99, 0}, avro.ErrSchemaNotFound},
		{good[:7], serde.ErrInvalidData},
		{append(good[:5:5], 0x7f, 'x'), serde.ErrInvalidData},
	}
	for _, c := range cases {
		_, err := s.Deserialize("orders", nil, c.data)
		if !errors.Is(err, c.want) {
			t.Errorf("%x: err = %v, want %v", c.data, err, c.want)
		}
	}
}

func BenchmarkAvroSerialize(b *testing.B) {
	s, _ := avro.New[OrderV1](newMem(), orderV1)
	v := OrderV1{ID: "order-1", Qty: 3, Price: 9.5}
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		_, _ = s.Serialize("orders", nil, v)
	}
}

func BenchmarkAvroDeserialize(b *testing.B) {
	s, _ := avro.New[OrderV1](newMem(), orderV1)
	data, _ := s.Serialize("orders", nil, OrderV1{ID: "order-1", Qty: 3, Price: 9.5})
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		_, _ = s.Deserialize("orders", nil, data)
	}
}

func BenchmarkAvroDeserializeResolved(b *testing.B) {
	reg := newMem()
	w, _ := avro.New[OrderV1](reg, orderV1)
	r, _ := avro.New[OrderV2](reg, orderV2)
	data, _ := w.Serialize("orders", nil, OrderV1{ID: "order-1", Qty: 3, Price: 9.5})
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		_, _ = r.Deserialize("orders", nil, data)
	}
}
