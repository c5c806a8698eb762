// want: does not match inferred type stream.Materialized[string, int64]
package main

import (
	"github.com/kafki/kafki/serde"
	"github.com/kafki/kafki/stream"
)

func main() {
	b := stream.NewBuilder()
	s := stream.Stream(b, "in", stream.ConsumedWith(serde.String(), serde.String()))
	// Count's store holds int64 counts, not strings.
	stream.Count(stream.GroupByKey(s), stream.MaterializedWith(serde.String(), serde.String()))
}
