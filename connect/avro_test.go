package connect_test

import (
	"context"
	"io"
	"log/slog"
	"net/http/httptest"
	"reflect"
	"testing"
	"time"

	"github.com/kafki/kafki/connect"
	"github.com/kafki/kafki/internal/kafkatest"
	"github.com/kafki/kafki/serde/registry"
)

// TestAvroConverterThroughRegistry writes Connect structs (optional
// fields, nested struct, int8, array, map) as Avro registered in the
// embedded registry and reads them back with a fresh converter that knows
// only the registry.
func TestAvroConverterThroughRegistry(t *testing.T) {
	c := kafkatest.New(t, 1)
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

	addr := &connect.Schema{Type: connect.Struct, Name: "shop.Address", Optional: true, Fields: []connect.Field{{Name: "city", Schema: connect.StringSchema}}}
	s := &connect.Schema{Type: connect.Struct, Name: "shop.Order", Fields: []connect.Field{
		{Name: "id", Schema: connect.Int64Schema},
		{Name: "qty", Schema: connect.Int8Schema},
		{Name: "note", Schema: connect.OptionalStringSchema},
		{Name: "addr", Schema: addr},
		{Name: "tags", Schema: &connect.Schema{Type: connect.Array, Items: connect.StringSchema}},
		{Name: "attrs", Schema: &connect.Schema{Type: connect.Map, Keys: connect.StringSchema, Values: connect.OptionalInt32Schema, Optional: true}},
		{Name: "ts", Schema: &connect.Schema{Type: connect.Int64, Name: connect.TimestampName}},
	}}
	v := map[string]any{"id": int64(1), "qty": int8(3), "note": "hi", "addr": map[string]any{"city": "Oslo"},
		"tags": []any{"a"}, "attrs": map[string]any{"x": int32(1)}, "ts": int64(1700000000000)}
	w, err := connect.NewConverter("io.confluent.connect.avro.AvroConverter")
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Configure(connect.Config{"schema.registry.url": ts.URL}, false); err != nil {
		t.Fatal(err)
	}
	b, err := w.FromConnectData("orders", nil, s, v)
	if err != nil {
		t.Fatal(err)
	}
	if b[0] != 0 {
		t.Fatalf("no wire-format magic byte: %x", b[:5])
	}
	r, _ := connect.NewConverter("avro")
	if err := r.Configure(connect.Config{"schema.registry.url": ts.URL}, false); err != nil {
		t.Fatal(err)
	}
	gs, gv, err := r.ToConnectData("orders", nil, b)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(gv, v) {
		t.Fatalf("value %#v\nwant  %#v", gv, v)
	}
	if gs.Name != "shop.Order" || gs.Field("qty").Schema.Type != connect.Int8 || !gs.Field("note").Schema.Optional || gs.Field("ts").Schema.Name != connect.TimestampName {
		t.Fatalf("schema %+v", gs)
	}
	// Optional fields left null read back as absent.
	v2 := map[string]any{"id": int64(2), "qty": int8(1), "tags": []any{}, "ts": int64(0)}
	b2, err := w.FromConnectData("orders", nil, s, v2)
	if err != nil {
		t.Fatal(err)
	}
	if _, gv, err = r.ToConnectData("orders", nil, b2); err != nil || !reflect.DeepEqual(gv, v2) {
		t.Fatalf("%#v %v", gv, err)
	}
	if _, _, err := r.ToConnectData("orders", nil, []byte{1, 2}); err == nil {
		t.Fatal("garbage accepted")
	}
	if _, err := w.FromConnectData("orders", nil, s, map[string]any{"id": "x"}); err == nil {
		t.Fatal("bad value accepted")
	}
}
