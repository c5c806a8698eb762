package serde_test

import (
	"bytes"
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/kafki/kafki/serde"
)

func roundTrip[T comparable](t *testing.T, s serde.Serde[T], v T, want []byte) {
	t.Helper()
	b, err := s.Serialize("t", nil, v)
	if err != nil {
		t.Fatalf("serialize %v: %v", v, err)
	}
	if want != nil && !bytes.Equal(b, want) {
		t.Fatalf("serialize %v = %x, want %x", v, b, want)
	}
	got, err := s.Deserialize("t", nil, b)
	if err != nil {
		t.Fatalf("deserialize %x: %v", b, err)
	}
	if got != v {
		t.Fatalf("round trip %v -> %v", v, got)
	}
	if a, ok := s.(serde.Appender[T]); ok {
		b2, err := a.AppendSerialize([]byte("pre"), "t", nil, v)
		if err != nil || !bytes.Equal(b2, append([]byte("pre"), b...)) {
			t.Fatalf("append serialize %v = %x, %v", v, b2, err)
		}
	}
}

func TestFixedWidthKafkaEncodings(t *testing.T) {
	// The byte layouts of Kafka's own serializers (big-endian, IEEE 754).
	roundTrip(t, serde.Int16(), int16(-2), []byte{0xff, 0xfe})
	roundTrip(t, serde.Int32(), int32(1), []byte{0, 0, 0, 1})
	roundTrip(t, serde.Int32(), int32(math.MinInt32), []byte{0x80, 0, 0, 0})
	roundTrip(t, serde.Int64(), int64(258), []byte{0, 0, 0, 0, 0, 0, 1, 2})
	roundTrip(t, serde.Int64(), int64(-1), bytes.Repeat([]byte{0xff}, 8))
	roundTrip(t, serde.Float32(), float32(1.5), []byte{0x3f, 0xc0, 0, 0})
	roundTrip(t, serde.Float64(), 1.0, []byte{0x3f, 0xf0, 0, 0, 0, 0, 0, 0})
	roundTrip(t, serde.Float64(), math.Inf(-1), []byte{0xff, 0xf0, 0, 0, 0, 0, 0, 0})
	roundTrip(t, serde.Bool(), true, []byte{1})
	roundTrip(t, serde.Bool(), false, []byte{0})
	roundTrip(t, serde.String(), "héllo", []byte("héllo"))
	roundTrip(t, serde.String(), "", []byte{})

	nan, err := serde.Float64().Deserialize("t", nil, []byte{0x7f, 0xf8, 0, 0, 0, 0, 0, 1})
	if err != nil || !math.IsNaN(nan) {
		t.Fatalf("NaN: %v %v", nan, err)
	}
}

func TestEmptyValuesAreNotNull(t *testing.T) {
	b, _ := serde.String().Serialize("t", nil, "")
	if b == nil {
		t.Fatal("empty string serialized to nil (Kafka null)")
	}
	b, _ = serde.Bytes().Serialize("t", nil, nil)
	if b == nil {
		t.Fatal("nil bytes serialized to nil (Kafka null)")
	}
}

func TestBytesIdentity(t *testing.T) {
	in := []byte{1, 2, 3}
	out, err := serde.Bytes().Deserialize("t", nil, in)
	if err != nil || &out[0] != &in[0] {
		t.Fatalf("bytes deserialize copied or failed: %v", err)
	}
}

func TestInvalidLength(t *testing.T) {
	_, err := serde.Int32().Deserialize("orders", nil, []byte{1, 2, 3})
	if !errors.Is(err, serde.ErrInvalidLength) {
		t.Fatalf("err = %v, want ErrInvalidLength", err)
	}
	var se *serde.Error
	if !errors.As(err, &se) || se.Serde != "int32" || se.Topic != "orders" || se.Op != serde.OpDeserialize || se.Len != 3 {
		t.Fatalf("err = %#v", se)
	}
	msg := err.Error()
	for _, want := range []string{"int32", "orders", "want 4 bytes, got 3"} {
		if !strings.Contains(msg, want) {
			t.Errorf("message %q lacks %q", msg, want)
		}
	}
	for name, f := range map[string]func([]byte) error{
		"int16":   func(b []byte) error { _, err := serde.Int16().Deserialize("", nil, b); return err },
		"int64":   func(b []byte) error { _, err := serde.Int64().Deserialize("", nil, b); return err },
		"float32": func(b []byte) error { _, err := serde.Float32().Deserialize("", nil, b); return err },
		"float64": func(b []byte) error { _, err := serde.Float64().Deserialize("", nil, b); return err },
		"bool":    func(b []byte) error { _, err := serde.Bool().Deserialize("", nil, b); return err },
	} {
		if err := f(make([]byte, 9)); !errors.Is(err, serde.ErrInvalidLength) {
			t.Errorf("%s: err = %v", name, err)
		}
		if err := f(nil); !errors.Is(err, serde.ErrInvalidLength) {
			t.Errorf("%s nil: err = %v", name, err)
		}
	}
	// Wrapping keeps the cause visible.
	wrapped := errors.Join(errors.New("partition 3 offset 17"), err)
	if !errors.Is(wrapped, serde.ErrInvalidLength) {
		t.Fatal("wrapped error lost its cause")
	}
}

func TestBoolInvalidByte(t *testing.T) {
	_, err := serde.Bool().Deserialize("t", nil, []byte{2})
	if !errors.Is(err, serde.ErrInvalidData) {
		t.Fatalf("err = %v", err)
	}
}

type order struct {
	ID    string            `json:"id"`
	Qty   int               `json:"qty"`
	Price float64           `json:"price"`
	Tags  []string          `json:"tags,omitempty"`
	Attrs map[string]string `json:"attrs,omitempty"`
}

func TestJSON(t *testing.T) {
	s := serde.JSON[order]()
	in := order{ID: "a1", Qty: 3, Price: 9.5, Tags: []string{"x"}, Attrs: map[string]string{"k": "v"}}
	b, err := s.Serialize("t", nil, in)
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != `{"id":"a1","qty":3,"price":9.5,"tags":["x"],"attrs":{"k":"v"}}` {
		t.Fatalf("json = %s", b)
	}
	out, err := s.Deserialize("t", nil, b)
	if err != nil || out.ID != in.ID || out.Qty != 3 || out.Tags[0] != "x" || out.Attrs["k"] != "v" {
		t.Fatalf("out = %+v, %v", out, err)
	}
	_, err = s.Deserialize("orders", nil, []byte(`{"id":`))
	if !errors.Is(err, serde.ErrInvalidData) || !strings.Contains(err.Error(), "orders") {
		t.Fatalf("err = %v", err)
	}
	_, err = s.Deserialize("orders", nil, []byte(`{"qty":"three"}`))
	if !errors.Is(err, serde.ErrInvalidData) {
		t.Fatalf("type mismatch err = %v", err)
	}
	// Values json cannot encode.
	_, err = serde.JSON[func()]().Serialize("t", nil, func() {})
	if !errors.Is(err, serde.ErrUnsupported) {
		t.Fatalf("func err = %v", err)
	}
	_, err = serde.JSON[float64]().Serialize("t", nil, math.NaN())
	if !errors.Is(err, serde.ErrUnsupported) {
		t.Fatalf("NaN err = %v", err)
	}
	// Generic maps.
	m, err := serde.JSON[map[string]any]().Deserialize("t", nil, []byte(`{"a":[1,"b",null]}`))
	if err != nil || len(m["a"].([]any)) != 3 {
		t.Fatalf("map = %v, %v", m, err)
	}
}

func TestFuncAndHeaders(t *testing.T) {
	// A serde that tags its encoding with a header-selected prefix.
	s := serde.Func(
		func(topic string, h []serde.Header, v string) ([]byte, error) {
			return []byte(topic + ":" + v), nil
		},
		func(topic string, h []serde.Header, data []byte) (string, error) {
			for _, hd := range h {
				if hd.Key == "enc" && string(hd.Value) == "upper" {
					return strings.ToUpper(string(data)), nil
				}
			}
			p := topic + ":"
			if !bytes.HasPrefix(data, []byte(p)) {
				return "", serde.DeserializeError("prefixed", topic, data, serde.Wrap(serde.ErrInvalidData, "missing topic prefix"))
			}
			return string(data[len(p):]), nil
		},
	)
	b, _ := s.Serialize("t", nil, "v")
	if v, err := s.Deserialize("t", nil, b); err != nil || v != "v" {
		t.Fatalf("%q %v", v, err)
	}
	if v, _ := s.Deserialize("t", []serde.Header{{Key: "enc", Value: []byte("upper")}}, []byte("abc")); v != "ABC" {
		t.Fatalf("header not seen: %q", v)
	}
	_, err := s.Deserialize("t", nil, []byte("x"))
	if !errors.Is(err, serde.ErrInvalidData) || !strings.Contains(err.Error(), "missing topic prefix") {
		t.Fatalf("err = %v", err)
	}

	half := serde.Simple[int](func(v int) ([]byte, error) { return []byte{byte(v)}, nil }, nil)
	if _, err := half.Deserialize("t", nil, []byte{1}); !errors.Is(err, serde.ErrUnsupported) {
		t.Fatalf("nil deserializer err = %v", err)
	}
	if b, err := half.Serialize("t", nil, 7); err != nil || b[0] != 7 {
		t.Fatalf("simple serialize %v %v", b, err)
	}
}

func TestBuiltinsAllocations(t *testing.T) {
	data4, data8 := []byte{0, 0, 0, 1}, []byte{0, 0, 0, 0, 0, 0, 0, 1}
	buf := make([]byte, 0, 64)
	checks := map[string]struct {
		f   func()
		max float64
	}{
		"int32 deserialize":   {func() { _, _ = serde.Int32().Deserialize("t", nil, data4) }, 0},
		"int64 deserialize":   {func() { _, _ = serde.Int64().Deserialize("t", nil, data8) }, 0},
		"float64 deserialize": {func() { _, _ = serde.Float64().Deserialize("t", nil, data8) }, 0},
		"bytes deserialize":   {func() { _, _ = serde.Bytes().Deserialize("t", nil, data8) }, 0},
		"int64 serialize":     {func() { _, _ = serde.Int64().Serialize("t", nil, 5) }, 1},
		"string serialize":    {func() { _, _ = serde.String().Serialize("t", nil, "hello world") }, 1},
		"string deserialize":  {func() { _, _ = serde.String().Deserialize("t", nil, data8) }, 1},
		"int64 append": {func() {
			_, _ = serde.Int64().(serde.Appender[int64]).AppendSerialize(buf[:0], "t", nil, 5)
		}, 0},
	}
	for name, c := range checks {
		if n := testing.AllocsPerRun(100, c.f); n > c.max {
			t.Errorf("%s: %v allocs, want <= %v", name, n, c.max)
		}
	}
}
