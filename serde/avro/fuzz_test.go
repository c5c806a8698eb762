package avro_test

import (
	"errors"
	"testing"

	"github.com/kafki/kafki/serde"
	"github.com/kafki/kafki/serde/avro"
)

const fuzzSchema = `{"type":"record","name":"Doc","fields":[
	{"name":"s","type":"string"},
	{"name":"n","type":["null","long"],"default":null},
	{"name":"b","type":"bytes","default":""},
	{"name":"m","type":{"type":"map","values":"double"},"default":{}},
	{"name":"a","type":{"type":"array","items":{"type":"record","name":"Item","fields":[
		{"name":"k","type":"int"},
		{"name":"e","type":{"type":"enum","name":"E","symbols":["X","Y"]}},
		{"name":"f","type":{"type":"fixed","name":"F4","size":4}}]}},"default":[]}]}`

type fuzzItem struct {
	K int32   `avro:"k"`
	E string  `avro:"e"`
	F [4]byte `avro:"f"`
}

type fuzzDoc struct {
	S string             `avro:"s"`
	N *int64             `avro:"n"`
	B []byte             `avro:"b"`
	M map[string]float64 `avro:"m"`
	A []fuzzItem         `avro:"a"`
}

// FuzzDeserialize feeds random bytes (with a valid or invalid header) to
// Avro deserializers, for structs and generic maps, with the writer schema
// equal to the reader's (id 1) and resolved against it (id 2, an older
// schema with fewer fields): errors are fine, panics are not. Seeds live in
// testdata/fuzz/FuzzDeserialize.
func FuzzDeserialize(f *testing.F) {
	reg := newMem()
	typed, err := avro.New[fuzzDoc](reg, fuzzSchema)
	if err != nil {
		f.Fatal(err)
	}
	generic, err := avro.New[map[string]any](reg, fuzzSchema)
	if err != nil {
		f.Fatal(err)
	}
	old, err := avro.New[map[string]any](reg, `{"type":"record","name":"Doc","fields":[{"name":"s","type":"string"}]}`)
	if err != nil {
		f.Fatal(err)
	}
	n := int64(-5)
	seed, err := typed.Serialize("t", nil, fuzzDoc{S: "hi", N: &n, B: []byte{1, 2}, M: map[string]float64{"x": 1.5},
		A: []fuzzItem{{K: 3, E: "Y", F: [4]byte{1, 2, 3, 4}}}})
	if err != nil {
		f.Fatal(err)
	}
	seedOld, err := old.Serialize("t", nil, map[string]any{"s": "old"})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(seed)
	f.Add(seedOld)
	f.Add([]byte{0, 0, 0, 0, 1})
	f.Add([]byte{0, 0, 0, 0, 1, 0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Add([]byte{0, 0, 0, 0, 2, 0x80})
	f.Add([]byte{1, 0, 0, 0, 1, 2, 'a'})
	f.Fuzz(func(t *testing.T, data []byte) {
		check := func(name string, err error) {
			if err == nil {
				return
			}
			var se *serde.Error
			if !errors.As(err, &se) {
				t.Fatalf("%s: %v is not a *serde.Error", name, err)
			}
			if !errors.Is(err, serde.ErrInvalidData) && !errors.Is(err, serde.ErrInvalidLength) &&
				!errors.Is(err, avro.ErrSchemaNotFound) && !errors.Is(err, avro.ErrIncompatible) {
				t.Fatalf("%s: %v wraps no known cause", name, err)
			}
		}
		v, err := typed.Deserialize("t", nil, data)
		check("typed", err)
		if err == nil {
			// What decodes must encode again.
			if _, err := typed.Serialize("t", nil, v); err != nil {
				t.Fatalf("re-encode %+v: %v", v, err)
			}
		}
		_, err = generic.Deserialize("t", nil, data)
		check("generic", err)
		_, err = old.Deserialize("t", nil, data)
		check("old", err)
	})
}
