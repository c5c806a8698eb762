package connect

import (
	"reflect"
	"testing"
	"time"
)

func chain(t *testing.T, cfg Config) []Transformation {
	t.Helper()
	ts, err := Transforms(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return ts
}

func TestTransformsChain(t *testing.T) {
	ts := chain(t, Config{
		"transforms":                   "ins,rep,key,route",
		"transforms.ins.type":          "org.apache.kafka.connect.transforms.InsertField$Value",
		"transforms.ins.topic.field":   "src_topic",
		"transforms.ins.static.field":  "origin",
		"transforms.ins.static.value":  "pg",
		"transforms.rep.type":          "org.apache.kafka.connect.transforms.ReplaceField$Value",
		"transforms.rep.exclude":       "note",
		"transforms.rep.renames":       "amount:total",
		"transforms.key.type":          "org.apache.kafka.connect.transforms.ValueToKey",
		"transforms.key.fields":        "id",
		"transforms.route.type":        "org.apache.kafka.connect.transforms.RegexRouter",
		"transforms.route.regex":       `([^.]+)\.([^.]+)`,
		"transforms.route.replacement": "$2-copy",
	})
	r := &Record{Topic: "shop.orders", ValueSchema: orderSchema, Value: map[string]any{"id": int32(1), "customer": "ada", "amount": 2.5, "note": "x"}, Timestamp: time.UnixMilli(5)}
	out, err := ApplyAll(ts, r)
	if err != nil {
		t.Fatal(err)
	}
	wantV := map[string]any{"id": int32(1), "customer": "ada", "total": 2.5, "src_topic": "shop.orders", "origin": "pg"}
	if !reflect.DeepEqual(out.Value, wantV) {
		t.Fatalf("value %#v", out.Value)
	}
	if err := Validate(out.ValueSchema, out.Value); err != nil {
		t.Fatalf("schema does not fit value: %v", err)
	}
	if out.ValueSchema.Field("note") != nil || out.ValueSchema.Field("total") == nil || out.ValueSchema.Field("origin") == nil {
		t.Fatalf("schema %+v", out.ValueSchema.Fields)
	}
	if !reflect.DeepEqual(out.Key, map[string]any{"id": int32(1)}) || out.KeySchema.Fields[0].Schema.Type != Int32 {
		t.Fatalf("key %#v %+v", out.Key, out.KeySchema)
	}
	if out.Topic != "orders-copy" {
		t.Fatalf("topic %q", out.Topic)
	}
	// The input record is not changed.
	if _, ok := r.Value.(map[string]any)["total"]; ok || r.Topic != "shop.orders" {
		t.Fatal("input changed")
	}
}

func TestExtractFieldAndUnwrap(t *testing.T) {
	ts := chain(t, Config{"transforms": "k", "transforms.k.type": "org.apache.kafka.connect.transforms.ExtractField$Key", "transforms.k.field": "id"})
	ks := &Schema{Type: Struct, Fields: []Field{{Name: "id", Schema: Int64Schema}}}
	out, err := ApplyAll(ts, &Record{KeySchema: ks, Key: map[string]any{"id": int64(9)}})
	if err != nil || out.Key != int64(9) || out.KeySchema.Type != Int64 {
		t.Fatalf("%+v %v", out, err)
	}

	row := &Schema{Type: Struct, Optional: true, Fields: []Field{{Name: "id", Schema: Int64Schema}}}
	env := &Schema{Type: Struct, Fields: []Field{{Name: "before", Schema: row}, {Name: "after", Schema: row}, {Name: "op", Schema: StringSchema}}}
	for _, tc := range []struct {
		mode string
		in   map[string]any
		want any
		drop bool
	}{
		{"drop", map[string]any{"after": map[string]any{"id": int64(1)}, "op": "c"}, map[string]any{"id": int64(1)}, false},
		{"drop", map[string]any{"before": map[string]any{"id": int64(1)}, "op": "d"}, nil, true},
		{"none", map[string]any{"before": map[string]any{"id": int64(1)}, "op": "d"}, nil, false},
		{"rewrite", map[string]any{"before": map[string]any{"id": int64(1)}, "op": "d"}, map[string]any{"id": int64(1), "__deleted": "true"}, false},
	} {
		u := chain(t, Config{"transforms": "u", "transforms.u.type": "io.debezium.transforms.ExtractNewRecordState", "transforms.u.delete.handling.mode": tc.mode})
		out, err := ApplyAll(u, &Record{ValueSchema: env, Value: tc.in})
		if err != nil {
			t.Fatal(err)
		}
		if tc.drop {
			if out != nil {
				t.Fatalf("%s: not dropped", tc.mode)
			}
			continue
		}
		if !reflect.DeepEqual(out.Value, tc.want) {
			t.Fatalf("%s: %#v", tc.mode, out.Value)
		}
	}
	// Tombstones are dropped by default.
	u := chain(t, Config{"transforms": "u", "transforms.u.type": "io.debezium.transforms.ExtractNewRecordState"})
	if out, err := ApplyAll(u, &Record{Key: "k"}); out != nil || err != nil {
		t.Fatalf("tombstone kept: %v %v", out, err)
	}
}

func TestTransformConfigErrors(t *testing.T) {
	for _, cfg := range []Config{
		{"transforms": "a"},
		{"transforms": "a", "transforms.a.type": "Nope"},
		{"transforms": "a", "transforms.a.type": "RegexRouter", "transforms.a.regex": "("},
		{"transforms": "a", "transforms.a.type": "ReplaceField$Value", "transforms.a.renames": "x"},
		{"transforms": "a", "transforms.a.type": "InsertField$Other"},
	} {
		if _, err := Transforms(cfg); err == nil {
			t.Errorf("%v: no error", cfg)
		}
	}
}
