package avro_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sr"

	"github.com/kafki/kafki/internal/kafkatest"
	"github.com/kafki/kafki/serde"
	"github.com/kafki/kafki/serde/avro"
	"github.com/kafki/kafki/serde/registry"
)

// newRegistry starts an embedded registry server on c and returns a
// client for it.
func newRegistry(t *testing.T, c *kafkatest.Cluster) *registry.Client {
	t.Helper()
	cl, err := registry.NewClient([]string{newRegistryURL(t, c)})
	if err != nil {
		t.Fatal(err)
	}
	return cl
}

// newRegistryURL starts an embedded registry server on c and returns its
// URL.
func newRegistryURL(t *testing.T, c *kafkatest.Cluster) string {
	t.Helper()
	srv, err := registry.NewServer(c.Brokers, registry.Topic(c.Topic("_schemas")),
		registry.Logger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := srv.Start(ctx); err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	return ts.URL
}

// TestEvolutionThroughRegistry runs the serdes against the embedded
// registry: compatible evolutions register and decode both ways, an
// incompatible schema is refused with the subject named.
func TestEvolutionThroughRegistry(t *testing.T) {
	c := kafkatest.New(t, 1)
	reg := newRegistry(t, c)
	w1 := must(avro.New[OrderV1](reg, orderV1))
	w2 := must(avro.New[OrderV2](reg, orderV2))
	b1 := must(w1.Serialize("orders", nil, OrderV1{ID: "a", Qty: 2, Price: 1.5}))
	b2 := must(w2.Serialize("orders", nil, OrderV2{ID: "b", Qty: 3, Price: 2, Note: "n"}))
	if id1, id2 := must(w1.ID("orders")), must(w2.ID("orders")); id1 == id2 || id1 <= 0 || id2 <= 0 {
		t.Fatalf("ids %d %d", id1, id2)
	}
	// A fresh reader (nothing cached) decodes both.
	r2 := must(avro.New[OrderV2](reg, orderV2))
	if v := must(r2.Deserialize("orders", nil, b1)); v.ID != "a" || v.Note != "none" || v.Qty != 2 {
		t.Fatalf("v1 as v2: %+v", v)
	}
	r1 := must(avro.New[OrderV1](reg, orderV1))
	if _, err := r1.Deserialize("orders", nil, b2); err == nil {
		// v1 reads qty as int but v2 wrote long: not resolvable.
		t.Fatal("v2 long read as v1 int")
	} else if !errors.Is(err, avro.ErrIncompatible) {
		t.Fatalf("v2 as v1: %v", err)
	}
	// Incompatible registration (BACKWARD by default): a new field with
	// no default.
	bad := must(avro.New[map[string]any](reg, orderBad))
	_, err := bad.Serialize("orders", nil, map[string]any{"id": "x", "qty": 1, "price": 1.0, "region": "eu"})
	t.Log(err)
	if !errors.Is(err, avro.ErrIncompatible) || !strings.Contains(err.Error(), `"orders-value"`) || !strings.Contains(err.Error(), "region") || !strings.Contains(err.Error(), "field qty") {
		t.Fatalf("incompatible: %v", err)
	}
}

const totalSchema = `{"type":"record","name":"CustomerTotal","namespace":"shop","fields":[
	{"name":"customer","type":"string"},
	{"name":"orders","type":"long"},
	{"name":"amount","type":"double"},
	{"name":"items","type":"long"}]}`

type CustomerTotal struct {
	Customer string  `avro:"customer"`
	Orders   int64   `avro:"orders"`
	Amount   float64 `avro:"amount"`
	Items    int64   `avro:"items"`
}

// TestAvroAggregationPipeline reads Avro orders (written with two schema
// versions) from one topic, aggregates them per customer, and writes Avro
// totals to another topic, through the serdes and the embedded registry.
// It stands in for the same topology built with the DSL.
func TestAvroAggregationPipeline(t *testing.T) {
	c := kafkatest.New(t, 0)
	reg := newRegistry(t, c)
	in, out := c.Topic("orders"), c.Topic("totals")
	c.CreateTopic(in, 3, nil)
	c.CreateTopic(out, 3, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	keys := serde.String()
	v1 := must(avro.New[OrderV1](reg, orderV1))
	v2 := must(avro.New[OrderV2](reg, orderV2))
	customers := []string{"ann", "bob", "cid", "dee"}
	want := map[string]CustomerTotal{}
	prod := c.Client()
	const n = 400
	for i := 0; i < n; i++ {
		cust := customers[i%len(customers)]
		k := must(keys.Serialize(in, nil, cust))
		var v []byte
		qty, price := int64(i%5+1), float64(i%7)+0.5
		if i%2 == 0 {
			v = must(v1.Serialize(in, nil, OrderV1{ID: cust, Qty: int32(qty), Price: price}))
		} else {
			v = must(v2.Serialize(in, nil, OrderV2{ID: cust, Qty: qty, Price: price, Note: "v2"}))
		}
		if err := prod.ProduceSync(ctx, &kgo.Record{Topic: in, Key: k, Value: v}).FirstErr(); err != nil {
			t.Fatal(err)
		}
		tot := want[cust]
		tot.Customer = cust
		tot.Orders++
		tot.Amount += price * float64(qty)
		tot.Items += qty
		want[cust] = tot
	}

	// The "topology": source (Avro, newest reader schema) -> aggregate
	// per key -> sink (Avro).
	reader := must(avro.New[OrderV2](reg, orderV2))
	writer := must(avro.New[CustomerTotal](reg, totalSchema))
	src := c.Client(kgo.ConsumeTopics(in), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	state := map[string]CustomerTotal{}
	for seen := 0; seen < n; {
		fs := src.PollFetches(ctx)
		if err := fs.Err0(); err != nil {
			t.Fatal(err)
		}
		for _, r := range fs.Records() {
			seen++
			cust := must(keys.Deserialize(r.Topic, nil, r.Key))
			o, err := reader.Deserialize(r.Topic, nil, r.Value)
			if err != nil {
				t.Fatalf("partition %d offset %d: %v", r.Partition, r.Offset, err)
			}
			tot := state[cust]
			tot.Customer = cust
			tot.Orders++
			tot.Amount += o.Price * float64(o.Qty)
			tot.Items += o.Qty
			state[cust] = tot
			v := must(writer.Serialize(out, nil, tot))
			if err := prod.ProduceSync(ctx, &kgo.Record{Topic: out, Key: r.Key, Value: v}).FirstErr(); err != nil {
				t.Fatal(err)
			}
		}
	}

	// Read the totals back with a generic reader: the last total per
	// customer is the aggregate.
	generic := must(avro.New[map[string]any](reg, totalSchema))
	sink := c.Client(kgo.ConsumeTopics(out), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	last := map[string]map[string]any{}
	for seen := 0; seen < n; {
		fs := sink.PollFetches(ctx)
		if err := fs.Err0(); err != nil {
			t.Fatal(err)
		}
		for _, r := range fs.Records() {
			seen++
			m, err := generic.Deserialize(r.Topic, nil, r.Value)
			if err != nil {
				t.Fatal(err)
			}
			cust := string(r.Key)
			if prev := last[cust]; prev == nil || m["orders"].(int64) > prev["orders"].(int64) {
				last[cust] = m
			}
		}
	}
	for cust, w := range want {
		got := last[cust]
		if got["orders"] != w.Orders || got["items"] != w.Items || got["amount"] != w.Amount || got["customer"] != cust {
			t.Errorf("%s: got %v, want %+v", cust, got, w)
		}
	}
}

const (
	addressSchema = `{"type":"record","name":"Address","namespace":"ref","fields":[{"name":"city","type":"string"},{"name":"geo","type":"ref.Geo"}]}`
	geoSchema     = `{"type":"record","name":"Geo","namespace":"ref","fields":[{"name":"lat","type":"double"},{"name":"lon","type":"double"}]}`
	personSchema  = `{"type":"record","name":"Person","namespace":"ref","fields":[{"name":"name","type":"string"},{"name":"home","type":"ref.Address"}]}`
	// personInline is Person with its references written out, plus a field
	// with a default: a reader that knows no references.
	personInline = `{"type":"record","name":"Person","namespace":"ref","fields":[{"name":"name","type":"string"},
		{"name":"home","type":{"type":"record","name":"Address","fields":[{"name":"city","type":"string"},
			{"name":"geo","type":{"type":"record","name":"Geo","fields":[{"name":"lat","type":"double"},{"name":"lon","type":"double"}]}}]}},
		{"name":"age","type":"int","default":-1}]}`
)

type Geo struct {
	Lat float64 `avro:"lat"`
	Lon float64 `avro:"lon"`
}

type Address struct {
	City string `avro:"city"`
	Geo  Geo    `avro:"geo"`
}

type Person struct {
	Name string  `avro:"name"`
	Home Address `avro:"home"`
}

type PersonV2 struct {
	Name string  `avro:"name"`
	Home Address `avro:"home"`
	Age  int     `avro:"age"`
}

// TestSchemaReferences writes with a schema whose named types come from
// other subjects (two levels of references) and reads it back with fresh
// serdes: one with the same references, one with a self-contained schema.
// The writer schema's references are resolved through the registry.
func TestSchemaReferences(t *testing.T) {
	c := kafkatest.New(t, 1)
	url := newRegistryURL(t, c)
	reg := must(registry.NewClient([]string{url}))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := reg.Register(ctx, "geo", sr.Schema{Schema: geoSchema}); err != nil {
		t.Fatal(err)
	}
	if _, err := reg.Register(ctx, "address", sr.Schema{Schema: addressSchema,
		References: []sr.SchemaReference{{Name: "ref.Geo", Subject: "geo", Version: 1}}}); err != nil {
		t.Fatal(err)
	}
	refs := avro.References(sr.SchemaReference{Name: "ref.Address", Subject: "address", Version: 1})
	w := must(avro.New[Person](reg, personSchema, refs))
	in := Person{Name: "ann", Home: Address{City: "Oslo", Geo: Geo{Lat: 59.9, Lon: 10.7}}}
	b := must(w.Serialize("people", nil, in))
	id := must(w.ID("people"))
	got, err := reg.SR().SchemaByID(ctx, id)
	if err != nil || len(got.References) != 1 || got.References[0].Subject != "address" {
		t.Fatalf("registered writer schema: %+v %v", got, err)
	}

	// Fresh clients: nothing cached.
	reg2, err := registry.NewClient([]string{url})
	if err != nil {
		t.Fatal(err)
	}
	same := must(avro.New[Person](reg2, personSchema, refs))
	if v := must(same.Deserialize("people", nil, b)); v != in {
		t.Fatalf("same schema: %+v", v)
	}
	reg3, err := registry.NewClient([]string{url})
	if err != nil {
		t.Fatal(err)
	}
	inline := must(avro.New[PersonV2](reg3, personInline))
	if v := must(inline.Deserialize("people", nil, b)); v.Name != "ann" || v.Home != in.Home || v.Age != -1 {
		t.Fatalf("self-contained reader: %+v", v)
	}

	// A reference to a version that does not exist is a clear error.
	if _, err := avro.New[Person](reg2, personSchema,
		avro.References(sr.SchemaReference{Name: "ref.Address", Subject: "address", Version: 9})); err == nil ||
		!strings.Contains(err.Error(), `subject "address" version 9`) || !errors.Is(err, avro.ErrSchemaNotFound) {
		t.Fatalf("missing reference: %v", err)
	}
}
