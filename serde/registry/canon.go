package registry

import (
	"bytes"
	"encoding/json"
	"io"
)

// canonical rewrites a schema's JSON the way the reference registry stores
// it (Avro's Schema.toString): no insignificant whitespace, and a
// primitive written as {"type": "string"} collapsed to "string". Key order
// is kept. Text that is not JSON is returned unchanged (the parser reports
// it).
func canonical(text string) string {
	d := json.NewDecoder(bytes.NewReader([]byte(text)))
	d.UseNumber()
	v, err := readOrdered(d)
	if err != nil {
		return text
	}
	if _, err := d.Token(); err != io.EOF {
		return text
	}
	var buf bytes.Buffer
	writeOrdered(&buf, collapse(v))
	return buf.String()
}

type kv struct {
	k string
	v any
}

type object []kv

func readOrdered(d *json.Decoder) (any, error) {
	t, err := d.Token()
	if err != nil {
		return nil, err
	}
	switch t := t.(type) {
	case json.Delim:
		switch t {
		case '{':
			var o object
			for d.More() {
				kt, err := d.Token()
				if err != nil {
					return nil, err
				}
				k, _ := kt.(string)
				v, err := readOrdered(d)
				if err != nil {
					return nil, err
				}
				o = append(o, kv{k, v})
			}
			_, err := d.Token()
			return o, err
		case '[':
			a := []any{}
			for d.More() {
				v, err := readOrdered(d)
				if err != nil {
					return nil, err
				}
				a = append(a, v)
			}
			_, err := d.Token()
			return a, err
		}
	}
	return t, nil
}

var primitives = map[string]bool{
	"null": true, "boolean": true, "int": true, "long": true, "float": true,
	"double": true, "bytes": true, "string": true,
}

func collapse(v any) any {
	switch v := v.(type) {
	case object:
		if len(v) == 1 && v[0].k == "type" {
			if s, ok := v[0].v.(string); ok && primitives[s] {
				return s
			}
		}
		for i := range v {
			if v[i].k == "default" {
				continue // a default value is data, not a schema
			}
			v[i].v = collapse(v[i].v)
		}
		return v
	case []any:
		for i := range v {
			v[i] = collapse(v[i])
		}
		return v
	}
	return v
}

func writeOrdered(buf *bytes.Buffer, v any) {
	switch v := v.(type) {
	case object:
		buf.WriteByte('{')
		for i, p := range v {
			if i > 0 {
				buf.WriteByte(',')
			}
			b, _ := json.Marshal(p.k)
			buf.Write(b)
			buf.WriteByte(':')
			writeOrdered(buf, p.v)
		}
		buf.WriteByte('}')
	case []any:
		buf.WriteByte('[')
		for i, x := range v {
			if i > 0 {
				buf.WriteByte(',')
			}
			writeOrdered(buf, x)
		}
		buf.WriteByte(']')
	case json.Number:
		buf.WriteString(string(v))
	default:
		enc := json.NewEncoder(buf)
		enc.SetEscapeHTML(false)
		_ = enc.Encode(v)
		buf.Truncate(buf.Len() - 1) // Encode's newline
	}
}
