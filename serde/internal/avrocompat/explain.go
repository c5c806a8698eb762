package avrocompat

import (
	"strings"

	havro "github.com/hamba/avro/v2"
)

// Explain returns every reason why reader cannot read data written with
// writer, each naming the field path (e.g. "field order.qty: reader int,
// writer long"), or nil if they are compatible.
func Explain(reader, writer havro.Schema) []string {
	c := havro.NewSchemaCompatibility()
	if c.Compatible(reader, writer) == nil {
		return nil
	}
	var out []string
	explain(c, reader, writer, "", &out, 0)
	if len(out) == 0 {
		out = append(out, c.Compatible(reader, writer).Error())
	}
	return out
}

func deref(s havro.Schema) havro.Schema {
	if r, ok := s.(*havro.RefSchema); ok {
		return r.Schema()
	}
	return s
}

func describe(s havro.Schema) string {
	s = deref(s)
	if n, ok := s.(havro.NamedSchema); ok {
		return string(s.Type()) + " " + n.FullName()
	}
	return string(s.Type())
}

func explain(c *havro.SchemaCompatibility, reader, writer havro.Schema, path string, out *[]string, depth int) {
	reader, writer = deref(reader), deref(writer)
	rr, rok := reader.(*havro.RecordSchema)
	wr, wok := writer.(*havro.RecordSchema)
	if !rok || !wok || depth > 16 {
		if err := c.Compatible(reader, writer); err != nil {
			where := "the schema"
			if path != "" {
				where = "field " + path
			}
			*out = append(*out, where+": reader "+describe(reader)+" cannot read writer "+describe(writer)+" ("+err.Error()+")")
		}
		return
	}
	if rr.FullName() != wr.FullName() && !hasAlias(rr.Aliases(), wr.FullName()) {
		*out = append(*out, "record names differ: reader "+rr.FullName()+", writer "+wr.FullName())
	}
	for _, rf := range rr.Fields() {
		p := rf.Name()
		if path != "" {
			p = path + "." + p
		}
		wf := field(wr, rf)
		if wf == nil {
			if !rf.HasDefault() {
				*out = append(*out, "field "+p+" is missing from the writer schema and has no default in the reader schema")
			}
			continue
		}
		explain(c, rf.Type(), wf.Type(), p, out, depth+1)
	}
}

func hasAlias(aliases []string, name string) bool {
	for _, a := range aliases {
		if a == name || strings.HasSuffix(name, "."+a) {
			return true
		}
	}
	return false
}

func field(w *havro.RecordSchema, rf *havro.Field) *havro.Field {
	for _, f := range w.Fields() {
		if f.Name() == rf.Name() {
			return f
		}
	}
	for _, f := range w.Fields() {
		for _, a := range rf.Aliases() {
			if f.Name() == a {
				return f
			}
		}
	}
	return nil
}
