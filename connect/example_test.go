package connect_test

import (
	"fmt"

	"github.com/kafki/kafki/connect"
)

// A record from a source is transformed (a field renamed, the key taken
// from the value, the topic routed) and written by the JSON converter
// with its schema envelope, as a worker does before producing it.
func Example() {
	schema := &connect.Schema{Type: connect.Struct, Name: "shop.Order", Fields: []connect.Field{
		{Name: "id", Schema: connect.Int32Schema},
		{Name: "amount", Schema: connect.Float64Schema},
	}}
	rec := &connect.Record{Topic: "db.public.orders", ValueSchema: schema,
		Value: map[string]any{"id": int32(7), "amount": 12.5}}
	ts, err := connect.Transforms(connect.Config{
		"transforms":                   "rename,key,route",
		"transforms.rename.type":       "org.apache.kafka.connect.transforms.ReplaceField$Value",
		"transforms.rename.renames":    "amount:total",
		"transforms.key.type":          "org.apache.kafka.connect.transforms.ValueToKey",
		"transforms.key.fields":        "id",
		"transforms.route.type":        "org.apache.kafka.connect.transforms.RegexRouter",
		"transforms.route.regex":       `db\.public\.(.*)`,
		"transforms.route.replacement": "$1-v1",
	})
	if err != nil {
		panic(err)
	}
	out, err := connect.ApplyAll(ts, rec)
	if err != nil {
		panic(err)
	}
	conv := connect.NewJSONConverter(true)
	key, _ := connect.NewJSONConverter(false).FromConnectData(out.Topic, nil, out.KeySchema, out.Key)
	value, _ := conv.FromConnectData(out.Topic, nil, out.ValueSchema, out.Value)
	fmt.Println(out.Topic)
	fmt.Println(string(key))
	fmt.Println(string(value))
	// Output:
	// orders-v1
	// {"id":7}
	// {"schema":{"type":"struct","fields":[{"type":"int32","optional":false,"field":"id"},{"type":"double","optional":false,"field":"total"}],"optional":false,"name":"shop.Order"},"payload":{"id":7,"total":12.5}}
}
