// want: does not match
package main

import (
	"github.com/kafki/kafki/serde"
	"github.com/kafki/kafki/stream"
)

func main() {
	b := stream.NewBuilder()
	// A source takes a Consumed, not a Produced.
	stream.Stream(b, "in", stream.ProducedWith(serde.String(), serde.String()))
}
