package avrocompat

import (
	"strings"
	"testing"

	havro "github.com/hamba/avro/v2"
)

func parse(t *testing.T, s string) havro.Schema {
	t.Helper()
	p, err := havro.ParseWithCache(s, "", &havro.SchemaCache{})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestExplain(t *testing.T) {
	writer := parse(t, `{"type":"record","name":"O","fields":[
		{"name":"id","type":"string"},
		{"name":"addr","type":{"type":"record","name":"A","fields":[{"name":"zip","type":"long"}]}}]}`)
	reader := parse(t, `{"type":"record","name":"O","fields":[
		{"name":"id","type":"int"},
		{"name":"addr","type":{"type":"record","name":"A","fields":[{"name":"zip","type":"int"},{"name":"city","type":"string"}]}},
		{"name":"note","type":"string","default":""}]}`)
	got := strings.Join(Explain(reader, writer), "\n")
	for _, want := range []string{"field id: reader int cannot read writer string", "field addr.zip: reader int cannot read writer long", "field addr.city is missing from the writer schema and has no default"} {
		if !strings.Contains(got, want) {
			t.Errorf("explanation lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "note") {
		t.Errorf("field with default reported:\n%s", got)
	}
	if Explain(writer, writer) != nil {
		t.Error("identical schemas explained as incompatible")
	}
	if e := Explain(parse(t, `"int"`), parse(t, `"string"`)); len(e) != 1 || !strings.HasPrefix(e[0], "the schema: reader int cannot read writer string") {
		t.Errorf("primitive: %v", e)
	}
}
