package connect

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

var orderSchema = &Schema{Type: Struct, Name: "shop.Order", Fields: []Field{
	{Name: "id", Schema: Int32Schema},
	{Name: "customer", Schema: StringSchema},
	{Name: "amount", Schema: Float64Schema},
	{Name: "note", Schema: OptionalStringSchema},
	{Name: "tags", Schema: &Schema{Type: Array, Items: StringSchema, Optional: true}},
	{Name: "raw", Schema: OptionalBytesSchema},
	{Name: "small", Schema: &Schema{Type: Int8, Optional: true}},
}}

func TestJSONEnvelopeRoundTrip(t *testing.T) {
	c := NewJSONConverter(true)
	v := map[string]any{"id": int32(7), "customer": "ada", "amount": 12.5, "tags": []any{"a", "b"}, "raw": []byte{1, 2}, "small": int8(-3)}
	b, err := c.FromConnectData("t", nil, orderSchema, v)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"schema":{"type":"struct","fields":[{"type":"int32","optional":false,"field":"id"},{"type":"string","optional":false,"field":"customer"},{"type":"double","optional":false,"field":"amount"},{"type":"string","optional":true,"field":"note"},{"type":"array","items":{"type":"string","optional":false},"optional":true,"field":"tags"},{"type":"bytes","optional":true,"field":"raw"},{"type":"int8","optional":true,"field":"small"}],"optional":false,"name":"shop.Order"},"payload":{"id":7,"customer":"ada","amount":12.5,"note":null,"tags":["a","b"],"raw":"AQI=","small":-3}}`
	if string(b) != want {
		t.Fatalf("got  %s\nwant %s", b, want)
	}
	s, got, err := c.ToConnectData("t", nil, b)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, v) {
		t.Fatalf("value %#v, want %#v", got, v)
	}
	if s.Name != "shop.Order" || len(s.Fields) != 7 || s.Fields[2].Schema.Type != Float64 || !s.Fields[3].Schema.Optional {
		t.Fatalf("schema %+v", s)
	}
	// A tombstone stays a tombstone.
	if b, err := c.FromConnectData("t", nil, nil, nil); err != nil || b != nil {
		t.Fatalf("tombstone: %q %v", b, err)
	}
}

func TestJSONSchemaless(t *testing.T) {
	c := NewJSONConverter(false)
	s, v, err := c.ToConnectData("t", nil, []byte(`{"a":1,"b":[1.5,"x",true],"c":null}`))
	if err != nil || s != nil {
		t.Fatal(s, err)
	}
	want := map[string]any{"a": int64(1), "b": []any{1.5, "x", true}, "c": nil}
	if !reflect.DeepEqual(v, want) {
		t.Fatalf("%#v", v)
	}
	b, err := c.FromConnectData("t", nil, nil, v)
	if err != nil || string(b) != `{"a":1,"b":[1.5,"x",true],"c":null}` {
		t.Fatalf("%s %v", b, err)
	}
}

func TestJSONErrors(t *testing.T) {
	c := NewJSONConverter(true)
	for in, msg := range map[string]string{
		`{"a":1}`: `requires "schema" and "payload"`,
		`{"schema":{"type":"int32"},"payload":"x"}`:                                         `int32 schema does not accept a string`,
		`{"schema":{"type":"int8"},"payload":300}`:                                          `300 is not a valid int8`,
		`{"schema":{"type":"struct","fields":[{"type":"int32","field":"a"}]},"payload":{}}`: `field a: invalid null value for a required int32`,
		`{"schema":{"type":"decimal"},"payload":1}`:                                         `unknown schema type "decimal"`,
		`{"schema":null,"payload":1} x`:                                                     `data after the first value`,
		`not json`:                                                                          `not valid JSON`,
	} {
		_, _, err := c.ToConnectData("t", nil, []byte(in))
		if err == nil || !errors.Is(err, ErrData) || !strings.Contains(err.Error(), msg) {
			t.Errorf("%s: got %v, want %q", in, err, msg)
		}
	}
	if _, err := c.FromConnectData("t", nil, orderSchema, map[string]any{"id": "x"}); err == nil || !strings.Contains(err.Error(), "field id") {
		t.Errorf("bad value: %v", err)
	}
}

// FuzzJSONEnvelope: the envelope decoder never panics, and what it
// accepts encodes and decodes again to the same schema and value.
func FuzzJSONEnvelope(f *testing.F) {
	for _, s := range []string{
		`{"schema":{"type":"struct","fields":[{"type":"int32","optional":false,"field":"id"},{"type":"map","keys":{"type":"string"},"values":{"type":"float","optional":true},"field":"m","optional":true}]},"payload":{"id":1,"m":{"a":1.5,"b":null}}}`,
		`{"schema":{"type":"array","items":{"type":"bytes"}},"payload":["AQI="]}`,
		`{"schema":{"type":"int64","optional":true,"default":5},"payload":null}`,
		`{"schema":null,"payload":{"x":[1,2.5]}}`,
		`{"schema":{"type":"string","name":"n","version":2,"doc":"d","parameters":{"k":"v"}},"payload":"s"}`,
	} {
		f.Add([]byte(s))
	}
	c := NewJSONConverter(true)
	f.Fuzz(func(t *testing.T, data []byte) {
		s, v, err := c.ToConnectData("t", nil, data)
		if err != nil {
			return
		}
		b, err := c.FromConnectData("t", nil, s, v)
		if err != nil {
			if s == nil && v == nil {
				return
			}
			t.Fatalf("re-encode %q: %v", data, err)
		}
		if b == nil {
			return
		}
		s2, v2, err := c.ToConnectData("t", nil, b)
		if err != nil {
			t.Fatalf("re-decode %s: %v", b, err)
		}
		if !reflect.DeepEqual(v, v2) || !reflect.DeepEqual(s, s2) {
			t.Fatalf("round trip changed %q:\n%#v %#v\n%#v %#v", data, s, v, s2, v2)
		}
	})
}
