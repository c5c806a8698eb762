package connect

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strconv"

	"github.com/kafki/kafki/serde"
)

// JSONConverter is Kafka Connect's JsonConverter. With schemas.enable
// (the default) every record is an envelope {"schema": ..., "payload":
// ...} that carries its own schema; without it, plain JSON whose numbers
// read as int64 or float64 and objects as maps.
type JSONConverter struct {
	schemas bool
}

// Configure implements Converter; it reads schemas.enable.
func (c *JSONConverter) Configure(cfg Config, _ bool) error {
	on, err := cfg.Bool("schemas.enable", true)
	c.schemas = on
	return err
}

// NewJSONConverter returns a configured JSON converter.
func NewJSONConverter(schemas bool) *JSONConverter { return &JSONConverter{schemas: schemas} }

// FromConnectData implements Converter.
func (c *JSONConverter) FromConnectData(_ string, _ []serde.Header, s *Schema, v any) ([]byte, error) {
	if s == nil && v == nil {
		return nil, nil
	}
	var b bytes.Buffer
	if c.schemas {
		b.WriteString(`{"schema":`)
		writeSchemaJSON(&b, s)
		b.WriteString(`,"payload":`)
	}
	if err := writeValueJSON(&b, s, v, ""); err != nil {
		return nil, err
	}
	if c.schemas {
		b.WriteByte('}')
	}
	return b.Bytes(), nil
}

// ToConnectData implements Converter.
func (c *JSONConverter) ToConnectData(_ string, _ []serde.Header, data []byte) (*Schema, any, error) {
	if data == nil {
		return nil, nil, nil
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var doc any
	if err := dec.Decode(&doc); err != nil {
		return nil, nil, dataErr("not valid JSON: %v", err)
	}
	if dec.More() {
		return nil, nil, dataErr("not valid JSON: data after the first value")
	}
	if !c.schemas {
		v, err := schemalessFromJSON(doc)
		return nil, v, err
	}
	env, ok := doc.(map[string]any)
	_, hasS := env["schema"]
	_, hasP := env["payload"]
	if !ok || len(env) != 2 || !hasS || !hasP {
		return nil, nil, dataErr(`JsonConverter with schemas.enable requires "schema" and "payload" fields and may not contain additional fields; set schemas.enable=false to read plain JSON`)
	}
	s, err := schemaFromJSON(env["schema"], 0)
	if err != nil {
		return nil, nil, err
	}
	if s == nil {
		v, err := schemalessFromJSON(env["payload"])
		return nil, v, err
	}
	v, err := valueFromJSON(s, env["payload"], "")
	if err != nil {
		return nil, nil, err
	}
	return s, v, nil
}

var jsonTypeNames = map[Type]string{Float32: "float", Float64: "double"}

func writeString(b *bytes.Buffer, s string) {
	out, _ := json.Marshal(s)
	b.Write(out)
}

// writeValueJSON writes v as JSON following s (nil: by Go type).
func writeValueJSON(b *bytes.Buffer, s *Schema, v any, path string) error {
	if v == nil {
		if s != nil && s.Default != nil {
			v = s.Default
		} else if s != nil && !s.Optional {
			return dataErr("%s: null for a required %s field", pathName(path), s.Type)
		} else {
			b.WriteString("null")
			return nil
		}
	}
	if s == nil {
		return writeAnyJSON(b, v, path)
	}
	bad := func() error { return dataErr("%s: %T is not a valid %s value", pathName(path), v, s.Type) }
	switch s.Type {
	case Int8, Int16, Int32, Int64:
		n, ok := intOf(v)
		if !ok || !intFits(s.Type, n) {
			return bad()
		}
		b.WriteString(strconv.FormatInt(n, 10))
	case Float32, Float64:
		var f float64
		switch x := v.(type) {
		case float32:
			f = float64(x)
		case float64:
			f = x
		default:
			return bad()
		}
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return dataErr("%s: %v cannot be written as JSON", pathName(path), f)
		}
		bits := 64
		if s.Type == Float32 {
			bits = 32
		}
		b.WriteString(strconv.FormatFloat(f, 'g', -1, bits))
	case Boolean:
		x, ok := v.(bool)
		if !ok {
			return bad()
		}
		b.WriteString(strconv.FormatBool(x))
	case String:
		x, ok := v.(string)
		if !ok {
			return bad()
		}
		writeString(b, x)
	case Bytes:
		x, ok := v.([]byte)
		if !ok {
			return bad()
		}
		writeString(b, base64.StdEncoding.EncodeToString(x))
	case Array:
		x, ok := v.([]any)
		if !ok {
			return bad()
		}
		b.WriteByte('[')
		for i, e := range x {
			if i > 0 {
				b.WriteByte(',')
			}
			if err := writeValueJSON(b, s.Items, e, fmt.Sprintf("%s[%d]", path, i)); err != nil {
				return err
			}
		}
		b.WriteByte(']')
	case Map:
		x, ok := v.(map[string]any)
		if !ok {
			return bad()
		}
		keys := sortedKeys(x)
		b.WriteByte('{')
		for i, k := range keys {
			if i > 0 {
				b.WriteByte(',')
			}
			writeString(b, k)
			b.WriteByte(':')
			if err := writeValueJSON(b, s.Values, x[k], path+"["+k+"]"); err != nil {
				return err
			}
		}
		b.WriteByte('}')
	case Struct:
		x, ok := v.(map[string]any)
		if !ok {
			return bad()
		}
		b.WriteByte('{')
		for i, f := range s.Fields {
			if i > 0 {
				b.WriteByte(',')
			}
			writeString(b, f.Name)
			b.WriteByte(':')
			if err := writeValueJSON(b, f.Schema, x[f.Name], joinPath(path, f.Name)); err != nil {
				return err
			}
		}
		b.WriteByte('}')
	default:
		return dataErr("%s: unknown schema type %q", pathName(path), s.Type)
	}
	return nil
}

func writeAnyJSON(b *bytes.Buffer, v any, path string) error {
	switch x := v.(type) {
	case nil:
		b.WriteString("null")
	case []any:
		b.WriteByte('[')
		for i, e := range x {
			if i > 0 {
				b.WriteByte(',')
			}
			if err := writeAnyJSON(b, e, fmt.Sprintf("%s[%d]", path, i)); err != nil {
				return err
			}
		}
		b.WriteByte(']')
	case map[string]any:
		b.WriteByte('{')
		for i, k := range sortedKeys(x) {
			if i > 0 {
				b.WriteByte(',')
			}
			writeString(b, k)
			b.WriteByte(':')
			if err := writeAnyJSON(b, x[k], joinPath(path, k)); err != nil {
				return err
			}
		}
		b.WriteByte('}')
	default:
		s := InferSchema(v)
		if s == nil {
			return dataErr("%s: %T cannot be written as JSON", pathName(path), v)
		}
		return writeValueJSON(b, s, v, path)
	}
	return nil
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func joinPath(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}

func pathName(path string) string {
	if path == "" {
		return "value"
	}
	return "field " + path
}

func intOf(v any) (int64, bool) {
	switch x := v.(type) {
	case int8:
		return int64(x), true
	case int16:
		return int64(x), true
	case int32:
		return int64(x), true
	case int64:
		return x, true
	case int:
		return int64(x), true
	}
	return 0, false
}

func intFits(t Type, n int64) bool {
	switch t {
	case Int8:
		return n >= math.MinInt8 && n <= math.MaxInt8
	case Int16:
		return n >= math.MinInt16 && n <= math.MaxInt16
	case Int32:
		return n >= math.MinInt32 && n <= math.MaxInt32
	}
	return true
}

// valueFromJSON converts a decoded JSON value to Connect data of schema s.
func valueFromJSON(s *Schema, v any, path string) (any, error) {
	if v == nil {
		if s.Default != nil {
			return s.Default, nil
		}
		if s.Optional {
			return nil, nil
		}
		return nil, dataErr("%s: invalid null value for a required %s field", pathName(path), s.Type)
	}
	bad := func() error {
		return dataErr("%s: %s schema does not accept %s", pathName(path), s.Type, jsonKind(v))
	}
	switch s.Type {
	case Int8, Int16, Int32, Int64:
		n, ok := v.(json.Number)
		if !ok {
			return nil, bad()
		}
		i, err := strconv.ParseInt(string(n), 10, 64)
		if err != nil || !intFits(s.Type, i) {
			return nil, dataErr("%s: %s is not a valid %s", pathName(path), n, s.Type)
		}
		switch s.Type {
		case Int8:
			return int8(i), nil
		case Int16:
			return int16(i), nil
		case Int32:
			return int32(i), nil
		}
		return i, nil
	case Float32, Float64:
		n, ok := v.(json.Number)
		if !ok {
			return nil, bad()
		}
		bits := 64
		if s.Type == Float32 {
			bits = 32
		}
		f, err := strconv.ParseFloat(string(n), bits)
		if err != nil {
			return nil, dataErr("%s: %s is not a valid %s", pathName(path), n, s.Type)
		}
		if bits == 32 {
			return float32(f), nil
		}
		return f, nil
	case Boolean:
		b, ok := v.(bool)
		if !ok {
			return nil, bad()
		}
		return b, nil
	case String:
		str, ok := v.(string)
		if !ok {
			return nil, bad()
		}
		return str, nil
	case Bytes:
		str, ok := v.(string)
		if !ok {
			return nil, bad()
		}
		b, err := base64.StdEncoding.DecodeString(str)
		if err != nil {
			return nil, dataErr("%s: bytes are not valid base64: %v", pathName(path), err)
		}
		return b, nil
	case Array:
		a, ok := v.([]any)
		if !ok {
			return nil, bad()
		}
		out := make([]any, len(a))
		for i, e := range a {
			c, err := valueFromJSON(s.Items, e, fmt.Sprintf("%s[%d]", path, i))
			if err != nil {
				return nil, err
			}
			out[i] = c
		}
		return out, nil
	case Map:
		m, ok := v.(map[string]any)
		if !ok {
			return nil, bad()
		}
		out := make(map[string]any, len(m))
		for k, e := range m {
			c, err := valueFromJSON(s.Values, e, path+"["+k+"]")
			if err != nil {
				return nil, err
			}
			out[k] = c
		}
		return out, nil
	case Struct:
		m, ok := v.(map[string]any)
		if !ok {
			return nil, bad()
		}
		out := make(map[string]any, len(s.Fields))
		for _, f := range s.Fields {
			c, err := valueFromJSON(f.Schema, m[f.Name], joinPath(path, f.Name))
			if err != nil {
				return nil, err
			}
			if c != nil {
				out[f.Name] = c
			}
		}
		return out, nil
	}
	return nil, dataErr("%s: unknown schema type %q", pathName(path), s.Type)
}

// schemalessFromJSON converts plain JSON: integers to int64, other numbers
// to float64.
func schemalessFromJSON(v any) (any, error) {
	switch x := v.(type) {
	case json.Number:
		if i, err := strconv.ParseInt(string(x), 10, 64); err == nil {
			return i, nil
		}
		f, err := strconv.ParseFloat(string(x), 64)
		if err != nil {
			return nil, dataErr("number %s is out of range", x)
		}
		return f, nil
	case []any:
		for i, e := range x {
			c, err := schemalessFromJSON(e)
			if err != nil {
				return nil, err
			}
			x[i] = c
		}
		return x, nil
	case map[string]any:
		for k, e := range x {
			c, err := schemalessFromJSON(e)
			if err != nil {
				return nil, err
			}
			x[k] = c
		}
		return x, nil
	}
	return v, nil
}
