package stream_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/kafki/kafki/serde"
	"github.com/kafki/kafki/stream"
	"github.com/kafki/kafki/topology"
	"github.com/kafki/kafki/topology/topologytest"
)

// The stream-stream join table of Kafka Streams' join-semantics reference
// ("improved left/outer stream-stream join", 3.1 and newer): one key, 10 ms
// join windows, no grace; null values are ignored. Each step lists what
// inner, left and outer joins emit right after it.
var streamJoinTable = []struct {
	ts                 int64
	right              bool
	value              string // "" is a null value
	inner, left, outer string
}{
	{1, false, "", "", "", ""},
	{2, true, "", "", "", ""},
	{3, false, "A", "", "", ""},
	{4, true, "a", "A-a@4", "A-a@4", "A-a@4"},
	{5, false, "B", "B-a@5", "B-a@5", "B-a@5"},
	{6, true, "b", "A-b@6 B-b@6", "A-b@6 B-b@6", "A-b@6 B-b@6"},
	{7, false, "", "", "", ""},
	{8, true, "", "", "", ""},
	{9, false, "C", "C-a@9 C-b@9", "C-a@9 C-b@9", "C-a@9 C-b@9"},
	{10, true, "c", "A-c@10 B-c@10 C-c@10", "A-c@10 B-c@10 C-c@10", "A-c@10 B-c@10 C-c@10"},
	{11, true, "", "", "", ""},
	{12, false, "", "", "", ""},
	{13, true, "", "", "", ""},
	{14, true, "d", "B-d@14 C-d@14", "B-d@14 C-d@14", "B-d@14 C-d@14"},
	{15, false, "D", "D-b@15 D-c@15 D-d@15", "D-b@15 D-c@15 D-d@15", "D-b@15 D-c@15 D-d@15"},
	{30, false, "E", "", "", ""},
	{45, false, "F", "", "E-null@30", "E-null@30"},
	{60, true, "f", "", "F-null@45", "F-null@45"},
	{75, false, "G", "", "", "null-f@60"},
}

func TestStreamStreamJoinSemanticsTable(t *testing.T) {
	w := stream.JoinTimeDifference(10*ms, 0)
	joins := map[string]func(l, r stream.KStream[string, string]) stream.KStream[string, string]{
		"inner": func(l, r stream.KStream[string, string]) stream.KStream[string, string] {
			return stream.Join(l, r, func(a, b string) string { return a + "-" + b }, w)
		},
		"left": func(l, r stream.KStream[string, string]) stream.KStream[string, string] {
			return stream.LeftJoin(l, r, func(a string, b *string) string { return a + "-" + orNull(b) }, w)
		},
		"outer": func(l, r stream.KStream[string, string]) stream.KStream[string, string] {
			return stream.OuterJoin(l, r, func(a, b *string) string { return orNull(a) + "-" + orNull(b) }, w)
		},
	}
	for name, join := range joins {
		t.Run(name, func(t *testing.T) {
			c := newJoinCase(t, join)
			for _, step := range streamJoinTable {
				in := c.left
				if step.right {
					in = c.right
				}
				rec := topology.Record[string, string]{Key: "k", Value: step.value, NullValue: step.value == "", Timestamp: time.UnixMilli(step.ts)}
				if err := in.PipeRecord(rec); err != nil {
					t.Fatal(err)
				}
				want := map[string]string{"inner": step.inner, "left": step.left, "outer": step.outer}[name]
				got := readAll(t, c.out)
				if want != "" {
					want = "k=" + want
					for i := 0; i < len(want); i++ { // "A-a@4 B-a@4" -> "k=A-a@4 k=B-a@4"
						if want[i] == ' ' {
							want = want[:i+1] + "k=" + want[i+1:]
						}
					}
				}
				if got != want {
					t.Errorf("after %d (%q): got %q, want %q", step.ts, step.value, got, want)
				}
			}
		})
	}
}

// The KTable-KTable join table of the same reference (current semantics):
// one key; "" is a tombstone in the input and "null" a deleted result row.
var tableJoinTable = []struct {
	ts                 int64
	right              bool
	value              string
	inner, left, outer string
}{
	{1, false, "", "", "", ""}, // deleting an absent row changes nothing
	{2, true, "", "", "", ""},
	{3, false, "A", "", "A-null", "A-null"},
	{4, true, "a", "A-a", "A-a", "A-a"},
	{5, false, "B", "B-a", "B-a", "B-a"},
	{6, true, "b", "B-b", "B-b", "B-b"},
	{7, false, "", "null", "null", "null-b"},
	{8, true, "", "", "", "null"},
	{9, false, "C", "", "C-null", "C-null"},
	{10, true, "c", "C-c", "C-c", "C-c"},
	{11, true, "", "null", "C-null", "C-null"},
	{12, false, "", "", "null", "null"},
	{13, true, "", "", "", ""},
	{14, true, "d", "", "", "null-d"},
	{15, false, "D", "D-d", "D-d", "D-d"},
}

func TestTableTableJoinSemanticsTable(t *testing.T) {
	joins := map[string]func(l, r stream.KTable[string, string]) stream.KTable[string, string]{
		"inner": func(l, r stream.KTable[string, string]) stream.KTable[string, string] {
			return stream.JoinTables(l, r, func(a, b string) string { return a + "-" + b })
		},
		"left": func(l, r stream.KTable[string, string]) stream.KTable[string, string] {
			return stream.LeftJoinTables(l, r, func(a string, b *string) string { return a + "-" + orNull(b) })
		},
		"outer": func(l, r stream.KTable[string, string]) stream.KTable[string, string] {
			return stream.OuterJoinTables(l, r, func(a, b *string) string { return orNull(a) + "-" + orNull(b) })
		},
	}
	for name, join := range joins {
		t.Run(name, func(t *testing.T) {
			c := newTableJoinCase(t, join)
			for _, step := range tableJoinTable {
				in := c.l
				if step.right {
					in = c.r
				}
				rec := topology.Record[string, string]{Key: "k", Value: step.value, NullValue: step.value == "", Timestamp: time.UnixMilli(step.ts)}
				if err := in.PipeRecord(rec); err != nil {
					t.Fatal(err)
				}
				want := map[string]string{"inner": step.inner, "left": step.left, "outer": step.outer}[name]
				if want == "null" {
					want = "<nil>"
				}
				if want != "" {
					want = "k=" + want + "@" + itoa(step.ts)
				}
				if got := readAll(t, c.out); got != want {
					t.Errorf("after %d (%q): got %q, want %q", step.ts, step.value, got, want)
				}
			}
		})
	}
}

func itoa(i int64) string { return fmt.Sprint(i) }

// The KStream-KTable join table of the same reference: the stream is left,
// the table right; only stream records emit.
func TestStreamTableJoinSemanticsTable(t *testing.T) {
	steps := []struct {
		ts          int64
		table       bool
		value       string
		inner, left string
	}{
		{1, false, "", "", ""}, {2, true, "", "", ""}, {3, false, "A", "", "A-null"}, {4, true, "a", "", ""},
		{5, false, "B", "B-a", "B-a"}, {6, true, "b", "", ""}, {7, false, "", "", ""}, {8, true, "", "", ""},
		{9, false, "C", "", "C-null"}, {10, true, "c", "", ""}, {11, true, "", "", ""}, {12, false, "", "", ""},
		{13, true, "", "", ""}, {14, true, "d", "", ""}, {15, false, "D", "D-d", "D-d"},
	}
	b := stream.NewBuilder()
	s := stream.Stream(b, "s", stream.ConsumedWith(serde.String(), serde.String()))
	tbl := stream.Table(b, "t", stream.ConsumedWith(serde.String(), serde.String()))
	stream.JoinTable(s, tbl, func(a, b string) string { return a + "-" + b }).To("inner")
	stream.LeftJoinTable(s, tbl, func(a string, b *string) string { return a + "-" + orNull(b) }).To("left")
	d := newDriver(t, b)
	sin := topologytest.CreateInputTopic(d, "s", serde.String(), serde.String())
	tin := topologytest.CreateInputTopic(d, "t", serde.String(), serde.String())
	inner := topologytest.CreateOutputTopic(d, "inner", serde.String(), serde.String())
	left := topologytest.CreateOutputTopic(d, "left", serde.String(), serde.String())
	for _, step := range steps {
		in := sin
		if step.table {
			in = tin
		}
		if err := in.PipeRecord(topology.Record[string, string]{Key: "k", Value: step.value, NullValue: step.value == "", Timestamp: time.UnixMilli(step.ts)}); err != nil {
			t.Fatal(err)
		}
		for _, o := range []struct {
			name, want string
			out        *topologytest.OutputTopic[string, string]
		}{{"inner", step.inner, inner}, {"left", step.left, left}} {
			want := o.want
			if want != "" {
				want = "k=" + want + "@" + itoa(step.ts)
			}
			if got := readAll(t, o.out); got != want {
				t.Errorf("%s join after %d (%q): got %q, want %q", o.name, step.ts, step.value, got, want)
			}
		}
	}
}
