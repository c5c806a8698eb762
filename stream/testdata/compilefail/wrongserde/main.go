// want: cannot use stream.ProducedWith(serde.String(), serde.Int64())
package main

import (
	"github.com/kafki/kafki/serde"
	"github.com/kafki/kafki/stream"
)

func main() {
	b := stream.NewBuilder()
	s := stream.Stream(b, "in", stream.ConsumedWith(serde.String(), serde.String()))
	// The values are strings; an int64 serde for them must not compile.
	s.To("out", stream.ProducedWith(serde.String(), serde.Int64()))
}
