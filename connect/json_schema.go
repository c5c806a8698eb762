package connect

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
)

func writeSchemaJSON(b *bytes.Buffer, s *Schema) {
	if s == nil {
		b.WriteString("null")
		return
	}
	t := jsonTypeNames[s.Type]
	if t == "" {
		t = string(s.Type)
	}
	b.WriteString(`{"type":`)
	writeString(b, t)
	switch s.Type {
	case Struct:
		b.WriteString(`,"fields":[`)
		for i, f := range s.Fields {
			if i > 0 {
				b.WriteByte(',')
			}
			var fb bytes.Buffer
			writeSchemaJSON(&fb, f.Schema)
			// Insert the field name into the field's schema object.
			fs := fb.Bytes()
			b.Write(fs[:len(fs)-1])
			b.WriteString(`,"field":`)
			writeString(b, f.Name)
			b.WriteByte('}')
		}
		b.WriteByte(']')
	case Array:
		b.WriteString(`,"items":`)
		writeSchemaJSON(b, s.Items)
	case Map:
		b.WriteString(`,"keys":`)
		writeSchemaJSON(b, s.Keys)
		b.WriteString(`,"values":`)
		writeSchemaJSON(b, s.Values)
	}
	b.WriteString(`,"optional":`)
	b.WriteString(strconv.FormatBool(s.Optional))
	if s.Name != "" {
		b.WriteString(`,"name":`)
		writeString(b, s.Name)
	}
	if s.Version != 0 {
		b.WriteString(`,"version":` + strconv.Itoa(s.Version))
	}
	if s.Doc != "" {
		b.WriteString(`,"doc":`)
		writeString(b, s.Doc)
	}
	if len(s.Parameters) > 0 {
		out, _ := json.Marshal(s.Parameters)
		b.WriteString(`,"parameters":`)
		b.Write(out)
	}
	if s.Default != nil {
		var db bytes.Buffer
		if writeValueJSON(&db, s, s.Default, "") == nil {
			b.WriteString(`,"default":`)
			b.Write(db.Bytes())
		}
	}
	b.WriteByte('}')
}

const maxSchemaDepth = 64

func schemaFromJSON(doc any, depth int) (*Schema, error) {
	if doc == nil {
		return nil, nil
	}
	if depth > maxSchemaDepth {
		return nil, dataErr("schema nested deeper than %d levels", maxSchemaDepth)
	}
	obj, ok := doc.(map[string]any)
	if !ok {
		return nil, dataErr("schema must be a JSON object, got %s", jsonKind(doc))
	}
	t, ok := obj["type"].(string)
	if !ok {
		return nil, dataErr(`schema must contain a "type" string`)
	}
	s := &Schema{}
	switch t {
	case "int8", "int16", "int32", "int64", "boolean", "string", "bytes", "array", "map", "struct":
		s.Type = Type(t)
	case "float":
		s.Type = Float32
	case "double":
		s.Type = Float64
	default:
		return nil, dataErr("unknown schema type %q", t)
	}
	if o, ok := obj["optional"]; ok && o != nil {
		b, ok := o.(bool)
		if !ok {
			return nil, dataErr(`schema "optional" must be true or false`)
		}
		s.Optional = b
	}
	if n, ok := obj["name"]; ok && n != nil {
		if s.Name, ok = n.(string); !ok {
			return nil, dataErr(`schema "name" must be a string`)
		}
	}
	if d, ok := obj["doc"]; ok && d != nil {
		if s.Doc, ok = d.(string); !ok {
			return nil, dataErr(`schema "doc" must be a string`)
		}
	}
	if v, ok := obj["version"]; ok && v != nil {
		n, ok := v.(json.Number)
		i, err := n.Int64()
		if !ok || err != nil || i < math.MinInt32 || i > math.MaxInt32 {
			return nil, dataErr(`schema "version" must be an integer`)
		}
		s.Version = int(i)
	}
	if p, ok := obj["parameters"]; ok && p != nil {
		pm, ok := p.(map[string]any)
		if !ok {
			return nil, dataErr(`schema "parameters" must be an object`)
		}
		s.Parameters = map[string]string{}
		for k, v := range pm {
			str, ok := v.(string)
			if !ok {
				return nil, dataErr(`schema parameter %q must be a string`, k)
			}
			s.Parameters[k] = str
		}
	}
	var err error
	switch s.Type {
	case Struct:
		fs, ok := obj["fields"].([]any)
		if !ok {
			return nil, dataErr(`struct schema must contain a "fields" array`)
		}
		seen := map[string]bool{}
		for _, f := range fs {
			fo, ok := f.(map[string]any)
			if !ok {
				return nil, dataErr("struct field must be an object")
			}
			name, ok := fo["field"].(string)
			if !ok {
				return nil, dataErr(`struct field must contain a "field" name`)
			}
			if seen[name] {
				return nil, dataErr("struct has field %q twice", name)
			}
			seen[name] = true
			fsch, err := schemaFromJSON(fo, depth+1)
			if err != nil {
				return nil, fmt.Errorf("field %q: %w", name, err)
			}
			s.Fields = append(s.Fields, Field{Name: name, Schema: fsch})
		}
	case Array:
		if obj["items"] == nil {
			return nil, dataErr(`array schema must contain "items"`)
		}
		if s.Items, err = schemaFromJSON(obj["items"], depth+1); err != nil {
			return nil, err
		}
	case Map:
		if obj["keys"] == nil || obj["values"] == nil {
			return nil, dataErr(`map schema must contain "keys" and "values"`)
		}
		if s.Keys, err = schemaFromJSON(obj["keys"], depth+1); err != nil {
			return nil, err
		}
		if s.Keys.Type != String {
			return nil, dataErr("map keys of type %s are not supported, only string", s.Keys.Type)
		}
		if s.Values, err = schemaFromJSON(obj["values"], depth+1); err != nil {
			return nil, err
		}
	}
	if d, ok := obj["default"]; ok && d != nil {
		dv, err := valueFromJSON(s.OptionalCopy(), d, "default")
		if err != nil {
			return nil, err
		}
		s.Default = dv
	}
	return s, nil
}

func jsonKind(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "a boolean"
	case json.Number:
		return "a number"
	case string:
		return "a string"
	case []any:
		return "an array"
	case map[string]any:
		return "an object"
	}
	return fmt.Sprintf("%T", v)
}
