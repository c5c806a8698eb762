package serde_test

import (
	"errors"
	"testing"

	"github.com/kafki/kafki/serde"
)

// checkErr fails unless err is nil or a *serde.Error wrapping one of the
// package's sentinels.
func checkErr(t *testing.T, name string, data []byte, err error) {
	t.Helper()
	if err == nil {
		return
	}
	var se *serde.Error
	if !errors.As(err, &se) {
		t.Fatalf("%s(%x): error %v is not a *serde.Error", name, data, err)
	}
	if !errors.Is(err, serde.ErrInvalidLength) && !errors.Is(err, serde.ErrInvalidData) {
		t.Fatalf("%s(%x): error %v wraps no sentinel", name, data, err)
	}
}

type fuzzDoc struct {
	A int               `json:"a"`
	B string            `json:"b"`
	C []float64         `json:"c"`
	D map[string]any    `json:"d"`
	E *fuzzDoc          `json:"e"`
	F map[string]string `json:"f"`
}

// FuzzBuiltins feeds random bytes to every built-in deserializer: errors
// are fine, panics are not, and whatever decodes must re-encode and decode
// to the same value. Seeds live in testdata/fuzz/FuzzBuiltins.
func FuzzBuiltins(f *testing.F) {
	for _, s := range [][]byte{
		nil, {}, {0}, {1}, {2}, {0xff, 0xfe}, {0, 0, 0, 1}, {0x7f, 0xf8, 0, 0, 0, 0, 0, 1},
		[]byte(`{"a":1,"b":"x","c":[1.5],"d":{"k":[null,true]},"e":{"a":2}}`),
		[]byte(`{"a":`), []byte(`[1,2]`), []byte("\xff\xfe\xfd"),
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if v, err := serde.Int16().Deserialize("t", nil, data); err == nil {
			b, _ := serde.Int16().Serialize("t", nil, v)
			if string(b) != string(data) {
				t.Fatalf("int16 %x -> %v -> %x", data, v, b)
			}
		} else {
			checkErr(t, "int16", data, err)
		}
		if v, err := serde.Int32().Deserialize("t", nil, data); err == nil {
			b, _ := serde.Int32().Serialize("t", nil, v)
			if string(b) != string(data) {
				t.Fatalf("int32 %x -> %v -> %x", data, v, b)
			}
		} else {
			checkErr(t, "int32", data, err)
		}
		if v, err := serde.Int64().Deserialize("t", nil, data); err == nil {
			b, _ := serde.Int64().Serialize("t", nil, v)
			if string(b) != string(data) {
				t.Fatalf("int64 %x -> %v -> %x", data, v, b)
			}
		} else {
			checkErr(t, "int64", data, err)
		}
		if v, err := serde.Float32().Deserialize("t", nil, data); err == nil {
			b, _ := serde.Float32().Serialize("t", nil, v)
			if string(b) != string(data) {
				t.Fatalf("float32 %x -> %v -> %x", data, v, b)
			}
		} else {
			checkErr(t, "float32", data, err)
		}
		if v, err := serde.Float64().Deserialize("t", nil, data); err == nil {
			b, _ := serde.Float64().Serialize("t", nil, v)
			if string(b) != string(data) {
				t.Fatalf("float64 %x -> %v -> %x", data, v, b)
			}
		} else {
			checkErr(t, "float64", data, err)
		}
		if v, err := serde.Bool().Deserialize("t", nil, data); err == nil {
			b, _ := serde.Bool().Serialize("t", nil, v)
			if string(b) != string(data) {
				t.Fatalf("bool %x -> %v -> %x", data, v, b)
			}
		} else {
			checkErr(t, "bool", data, err)
		}
		if v, err := serde.String().Deserialize("t", nil, data); err != nil || v != string(data) {
			t.Fatalf("string %x -> %q, %v", data, v, err)
		}
		if v, err := serde.Bytes().Deserialize("t", nil, data); err != nil || string(v) != string(data) {
			t.Fatalf("bytes %x -> %x, %v", data, v, err)
		}
		js := serde.JSON[fuzzDoc]()
		if v, err := js.Deserialize("t", nil, data); err == nil {
			b, err := js.Serialize("t", nil, v)
			if err != nil {
				t.Fatalf("json re-encode of %+v: %v", v, err)
			}
			if _, err := js.Deserialize("t", nil, b); err != nil {
				t.Fatalf("json re-decode of %s: %v", b, err)
			}
		} else {
			checkErr(t, "json", data, err)
		}
		if _, err := serde.JSON[map[string]any]().Deserialize("t", nil, data); err != nil {
			checkErr(t, "json map", data, err)
		}
	})
}
