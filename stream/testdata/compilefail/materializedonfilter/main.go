// want: cannot use stream.MaterializedAs[string, string]("kept")
package main

import (
	"github.com/kafki/kafki/serde"
	"github.com/kafki/kafki/stream"
)

func main() {
	b := stream.NewBuilder()
	s := stream.Stream(b, "in", stream.ConsumedWith(serde.String(), serde.String()))
	// A stream's Filter keeps no store: it takes a Named, not a Materialized.
	s.Filter(func(k, v string) bool { return true }, stream.MaterializedAs[string, string]("kept"))
}
